"""Safe state on every way out: normal exit, an exception, SIGINT, SIGTERM, SIGHUP; a safe state
that fails on one instrument still reaches the others and is reported after the original error.

The simulators run in this test process; the station under test runs in a child process (a plain
script, as a user would write it) pointed at them, so the outputs can be read after the child is
gone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from hilt import Station
from hilt.errors import InstrumentError, SafeStateError
from hilt.instrument import Instrument
from hilt.sims.photonic_processor import SimPhotonicProcessor
from hilt.sims.qontrol import SimQontrolQ8iv
from hilt.sims.world import World
from hilt.transport import open_transport

SCRIPT = """
import signal
import sys
from hilt import Station

# What a terminal gives a script: a shell that starts the test run in the background hands its
# children SIGINT ignored, and Python keeps it so.
signal.signal(signal.SIGINT, signal.default_int_handler)

with Station.from_yaml(sys.argv[1]) as st:
    st.heaters.set_voltages([4.0] * 8)
    st.chip.set_light(True)
    st.chip.set_heaters(0, [3.0] * st.chip.heaters_per_layer)
    print("ready", flush=True)
    while True:  # a lab script's measurement loop: transactions all the time
        st.heaters.get_voltages()
"""


@pytest.fixture
def bench(served, tmp_path: Path):
    world = World(seed=0)
    heaters, heaters_address = served(SimQontrolQ8iv, world=world)
    chip, chip_address = served(SimPhotonicProcessor, world=world, n=4, layers=1)
    station = tmp_path / "bench.yaml"
    station.write_text(textwrap.dedent(f"""
        name: bench
        instruments:
          heaters:
            driver: qontrol_q8iv
            address: "{heaters_address}"
          chip:
            driver: photonic_processor
            address: "{chip_address}"
        """))
    return heaters, chip, station


def _outputs_off(heaters: SimQontrolQ8iv, chip: SimPhotonicProcessor) -> bool:
    return bool(np.all(heaters.v == 0) and not chip.light_on and all(v.max() == 0 for v in chip.volts))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_puts_every_output_safe(bench, tmp_path: Path, sig: signal.Signals) -> None:
    heaters, chip, station = bench
    script = tmp_path / "measure.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(station)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        assert heaters.v.max() == 4.0 and chip.light_on  # on, before the signal
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert _outputs_off(heaters, chip), err
    assert "Terminated" in err or "KeyboardInterrupt" in err


def test_exception_and_normal_exit_put_outputs_safe(bench) -> None:
    heaters, chip, station = bench
    with pytest.raises(RuntimeError, match="analysis failed"), Station.from_yaml(station) as st:
        st.heaters.set_voltages([2.0] * 8)
        st.chip.set_light(True)
        raise RuntimeError("analysis failed")
    assert _outputs_off(heaters, chip)
    with Station.from_yaml(station) as st:
        st.heaters.set_voltages([2.0] * 8)
        st.chip.set_light(True)
    assert _outputs_off(heaters, chip)


def test_a_failing_safe_state_reaches_every_other_instrument_and_is_reported(bench) -> None:
    heaters, chip, station = bench
    # The chip refuses everything from now on: its safe state fails.
    with pytest.raises(SafeStateError) as info, Station.from_yaml(station) as st:
        st.heaters.set_voltages([2.0] * 8)
        chip.faults.error, chip.faults.error_count = True, 1000
    assert set(info.value.failures) == {"chip"}
    assert isinstance(info.value.failures["chip"], InstrumentError)
    assert np.all(heaters.v == 0)  # the heaters were still ramped down
    chip.faults.clear()
    # With an error already on its way out, that error comes first and the failure rides on it.
    with pytest.raises(ZeroDivisionError) as first, Station.from_yaml(station) as st:
        st.heaters.set_voltages([2.0] * 8)
        chip.faults.error, chip.faults.error_count = True, 1000
        _ = 1 / 0
    assert any("safe state failed" in note for note in getattr(first.value, "__notes__", []))
    assert np.all(heaters.v == 0)


def test_failed_transaction_leaves_no_owner_behind(served) -> None:
    """A transaction refused on a closed link must not leave its thread recorded as the owner
    (that thread's next call skipped the lock and failed with an AssertionError)."""
    from hilt.errors import ConnectError
    from hilt.sims.keysight_e8257d import SimE8257D

    _, address = served(SimE8257D)
    link = open_transport(address.replace("TCPIP::", "tcp://").replace("::SOCKET", "").replace("::", ":"))
    for _ in range(2):
        with pytest.raises(ConnectError, match="not connected"):
            link.query("*IDN?")
    link.open()
    try:
        assert link.query("*IDN?").startswith("Keysight")
        seen: list[str] = []
        t = threading.Thread(target=lambda: seen.append(link.query(":OUTP?")))
        t.start()
        t.join()
        assert seen == ["0"]
    finally:
        link.close()


def test_visa_timeout_is_restored_after_draining(served) -> None:
    """Draining a stale VISA link shortens the timeout; sized reads must see the real one again."""
    from hilt.sims.keysight_e8257d import SimE8257D

    sim, address = served(SimE8257D)
    link = open_transport(address, timeout=1.5)
    with link:
        link.mark_stale()
        link.write("*CLS")  # the next transaction drains first
        assert link._res.timeout == 1500


def test_connected_is_false_once_the_link_dropped(served) -> None:
    from hilt.drivers.keysight_e8257d import KeysightE8257D
    from hilt.errors import ConnectError
    from hilt.sims.keysight_e8257d import SimE8257D

    sim, address = served(SimE8257D)
    tcp = address.replace("TCPIP::", "tcp://").replace("::SOCKET", "").replace("::", ":")
    synth: Instrument = KeysightE8257D(tcp, timeout=0.3)
    synth.connect()
    try:
        sim.faults.drop, sim.faults.drop_count = True, 1
        with pytest.raises(ConnectError, match="closed"):
            synth.transport.query(":OUTP?")  # the bare link: no retry
        assert not synth.connected
        synth.reconnect()
        assert synth.connected and synth.output.get() is False
    finally:
        synth.close()


def _wait_until(condition, timeout: float = 60.0) -> None:
    """Poll a condition of the simulated hardware (the child process gives no other signal)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_hilt_train_stopped_by_a_signal_leaves_the_chip_safe(served, tmp_path: Path, sig: signal.Signals) -> None:
    """`hilt train` on a chip (served here, so its outputs can be read after the child is gone):
    the signal ends the run as "aborted" with the signal named, heaters at 0 V and light off."""
    from hilt.runfile import RunReader

    chip, address = served(SimPhotonicProcessor, world=World(seed=0), n=16, layers=2)
    station = tmp_path / "chip.yaml"
    station.write_text(f'name: chipbench\ninstruments:\n  chip:\n    driver: photonic_processor\n    address: "{address}"\n')
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "hilt.gui.cli", "train", str(station), "--loop", "insitu",
                             "--epochs", "50", "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_until(lambda: chip.light_on and max(float(v.max()) for v in chip.volts) > 0)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert not chip.light_on and all(float(v.max()) == 0 for v in chip.volts), err
    [run_file] = runs.glob("*.h5")
    with RunReader(run_file) as run:
        assert run.status == "aborted", run.reason
        assert sig.name in run.reason
    assert "Traceback" not in err
