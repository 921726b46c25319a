"""Station files: validation messages, connect/safe-state life cycle, snapshots."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hilt.config import parse_station
from hilt.errors import ConfigError, ConnectError
from hilt.station import Station

GOOD = """\
name: bench
simulate: true
world: {seed: 7}
instruments:
  synth:
    driver: keysight_e8257d
    limits: {frequency: [1e9, 2e10]}
  heater:
    driver: keithley_2400
    limits: {voltage: [0, 5]}
    sim: {load_ohm: 250}
"""


@pytest.mark.parametrize("text,message", [
    ("instruments:\n  synth:\n    driver: e8257\n",
     "s.yaml:3: instruments.synth.driver: unknown driver 'e8257' (known: "),
    ("instruments:\n  synth:\n    driver: keysight_e8257d\n",
     "s.yaml:2: instruments.synth.address: needed unless the instrument is simulated"),
    ("simulate: true\ninstruments:\n  synth:\n    driver: keysight_e8257d\n    colour: red\n",
     "s.yaml:5: instruments.synth.colour: unknown field 'colour'"),
    ("simulate: true\ninstruments:\n  synth:\n    driver: keysight_e8257d\n    limits: {power: [5, -5]}\n",
     "s.yaml:5: instruments.synth.limits: power: low limit 5 above high limit -5"),
    ("simulate: yes please\ninstruments: {}\n", "s.yaml:1: simulate: Input should be a valid boolean"),
    ("simulate: true\ninstruments: {}\n", "s.yaml:2: instruments: a station needs at least one instrument"),
    ("instruments:\n  synth:\n    driver: [\n", "s.yaml:4: not valid YAML"),
    ("- just\n- a list\n", "s.yaml: a station file is a mapping"),
    ("simulate: true\ninstruments:\n  synth:\n    driver: keysight_e8257d\n    uses: {source: nobody}\n",
     "s.yaml:5: instruments.synth.uses.source: no other instrument named 'nobody'"),
    ("simulate: true\nworld: {seed: one}\ninstruments:\n  synth:\n    driver: keysight_e8257d\n",
     "s.yaml:2: world.seed: Input should be a valid integer"),
])
def test_broken_station_gets_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_station(text, "s.yaml")
    text_of_error = str(info.value)
    assert text_of_error.startswith(message), text_of_error
    assert "\n" not in text_of_error


def test_limits_outside_hardware_range_name_the_instrument(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("simulate: true\ninstruments:\n  synth:\n    driver: keysight_e8257d\n"
                    "    limits: {frequency: [1e9, 9e10]}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:5: instruments.synth.limits.frequency: .*exceed the hardware range"):
        Station.from_yaml(path).connect()
    path.write_text("simulate: true\ninstruments:\n  synth:\n    driver: keysight_e8257d\n    limits: {volume: [0, 1]}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:5: instruments.synth.limits.volume: no parameter 'volume'"):
        Station.from_yaml(path).connect()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read station file"):
        Station.from_yaml(tmp_path / "nope.yaml")


def test_station_connects_applies_limits_and_leaves_safe(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(GOOD)
    with Station.from_yaml(path) as st:
        assert set(st.instruments) == {"synth", "heater"}
        assert st.synth is st["synth"]
        st.synth.output.set(True)
        st.heater.output.set(True)
        st.heater.voltage.set(1.0)
        assert st.simulators["heater"].voltage == 1.0
        with pytest.raises(Exception, match="soft limits"):
            st.heater.voltage.set(6.0)
        snap = st.snapshot()
        assert snap["instruments"]["synth"]["identity"]["model"] == "E8257D"
        assert snap["instruments"]["heater"]["simulated"] is True
        assert snap["world"] == {"seed": 7, "errors": "none"}
        assert snap["versions"]["hilt"]
        sims = dict(st.simulators)
        # Both simulators share one world: what one instrument sets, the world holds.
        assert st.world.get("synth.output") is True
    assert sims["synth"].output is False
    assert (sims["heater"].voltage, sims["heater"].output) == (0.0, False)
    assert not st.connected


def test_error_inside_block_still_leaves_safe(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(GOOD)
    with pytest.raises(RuntimeError, match="boom"), Station.from_yaml(path) as st:
        st.synth.output.set(True)
        sim = st.simulators["synth"]
        raise RuntimeError("boom")
    assert sim.output is False


def test_unreachable_instrument_fails_connect_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text(textwrap.dedent("""\
        simulate: true
        instruments:
          synth:
            driver: keysight_e8257d
          real:
            driver: keysight_e8257d
            simulate: false
            address: TCPIP::127.0.0.1::1::SOCKET
            transport: {timeout: 0.5}
        """))
    st = Station.from_yaml(path)
    with pytest.raises(ConnectError, match=r"1 instrument\(s\) failed to connect: real: .*cannot connect"):
        st.connect()
    assert not st.servers and not st.synth.connected
