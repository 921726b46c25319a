"""Broken station files: one line naming file, line and field, before anything starts.

Every variant below is a working station with one thing wrong. Reading it must fail with a
:class:`ConfigError` whose text starts with ``file:line: field.path:``; no simulator may start and
no socket may be made on the way (watched with Python's audit hook on ``socket.__new__``, which
every simulator server and every instrument link goes through). ``hilt station check`` prints the
same line, exits 1, and never shows a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hilt import stations
from hilt.config import load_station, parse_station
from hilt.errors import ConfigError, ConnectError
from hilt.gui.cli import main
from hilt.station import Station

# A small MZI bench (the shape of the bundled hilt/stations/mzi-lab.yaml); line numbers matter below.
MZI = """\
name: mzi-lab
simulate: true
world:
  seed: 2024
  errors: mild
  systems:
    chip:
      kind: mzi_chip
      n: 8
      heaters: [heaters]
      laser: laser
      meter: [pm]
      input_port: 0
instruments:
  laser:
    driver: keysight_8164b
    options: {slot: 0}
    limits:
      power: [1.0e-6, 5.0e-3]
  heaters:
    driver: qontrol_q8iv
    options: {modules: 8, ramp_step: 2.0}
    sim: {modules: 8}
    limits:
      voltage: [0, 8]
  pm:
    driver: keysight_n7744a
    options: {variant: N7745A}
    sim: {variant: N7745A, system: chip}
"""

# A THz bench without world systems (cheap to check): a synthesizer and a multiplier using it.
THZ = """\
name: thz
simulate: true
instruments:
  synth:
    driver: keysight_e8257d
    limits: {frequency: [12.5e9, 18.33e9]}
  multiplier:
    driver: vdi_multiplier
    uses: {source: synth}
    options: {band: WR-10}
  lockin:
    driver: srs_sr830
    address: /dev/ttyUSB1
    transport: {timeout: 1.0}
"""

#: (id, base, text replaced, replacement, expected start of the message after "s.yaml:")
VARIANTS = [
    # The 14 the issue found handled badly.
    ("modules-negative", MZI, "{modules: 8, ramp_step", "{modules: -8, ramp_step",
     "22: instruments.heaters.options.modules: "),
    ("modules-word", MZI, "{modules: 8, ramp_step", "{modules: eight, ramp_step",
     "22: instruments.heaters.options.modules: Input should be a valid integer"),
    ("errors-unknown-preset", MZI, "errors: mild", "errors: catastrophic",
     "5: world.errors: unknown error preset 'catastrophic'"),
    ("system-n-negative", MZI, "      n: 8", "      n: -8",
     "9: world.systems.chip.n: must be a whole number of modes, 2 or more, not -8"),
    ("limit-nan", MZI, "voltage: [0, 8]", "voltage: [0, .nan]",
     "25: instruments.heaters.limits.voltage[1]: must be a finite number, not nan"),
    ("system-names-missing-instrument", MZI, "laser: laser", "laser: lazer",
     "11: world.systems.chip.laser: no instrument named 'lazer'"),
    ("system-names-missing-meter", MZI, "meter: [pm]", "meter: [pm, pm2]",
     "12: world.systems.chip.meter: no instrument named 'pm2'"),
    ("sim-names-missing-system", MZI, "system: chip}", "system: chop}",
     "29: instruments.pm.sim.system: no world system named 'chop'"),
    ("sim-unknown-key", MZI, "sim: {modules: 8}", "sim: {modules: 8, colour: red}",
     "23: instruments.heaters.sim.colour: unknown option 'colour' for the qontrol_q8iv simulator"),
    ("input-port-out-of-range", MZI, "input_port: 0", "input_port: 99",
     "13: world.systems.chip.input_port: must be one of the chip's ports 0..7, not 99"),
    # More of the same kinds.
    ("sim-modules-negative", MZI, "sim: {modules: 8}", "sim: {modules: -8}",
     "23: instruments.heaters.sim.modules: must be a positive integer, not -8"),
    ("input-port-word", MZI, "input_port: 0", "input_port: first",
     "13: world.systems.chip.input_port: must be a port index, 'uniform' or 8 amplitudes"),
    ("system-unknown-key", MZI, "input_port: 0", "input_port: 0\n      colour: red",
     "14: world.systems.chip.colour: unknown option 'colour' for a world system of kind mzi_chip"),
    ("system-unknown-kind", MZI, "kind: mzi_chip", "kind: mzi_chop",
     "8: world.systems.chip.kind: 'mzi_chop' is not a known system (known: mzi_chip, slm_optics, thz_path)"),
    ("system-without-kind", MZI, "      kind: mzi_chip\n", "",
     "7: world.systems.chip: needs a 'kind'"),
    ("world-speed-inf", MZI, "  seed: 2024", "  seed: 2024\n  speed: .inf",
     "5: world.speed: must be a finite number, not inf"),
    ("limit-inf", MZI, "power: [1.0e-6, 5.0e-3]", "power: [1.0e-6, .inf]",
     "19: instruments.laser.limits.power[1]: must be a finite number, not inf (null means no limit)"),
    ("option-nan", MZI, "ramp_step: 2.0}", "ramp_step: .nan}",
     "22: instruments.heaters.options.ramp_step: must be a finite number, not nan"),
    ("duplicate-limit", MZI, "      power: [1.0e-6, 5.0e-3]", "      power: [1.0e-6, 5.0e-3]\n      power: [0, 1]",
     "20: instruments.laser.limits.power: given twice (first on line 19)"),
    ("duplicate-world-key", MZI, "  seed: 2024", "  seed: 2024\n  seed: 7",
     "5: world.seed: given twice (first on line 4)"),
    ("driver-unknown-option", MZI, "{slot: 0}", "{slot: 0, colour: red}",
     "17: instruments.laser.options.colour: unknown option 'colour' for driver keysight_8164b (known: "),
    ("driver-option-out-of-range", MZI, "{slot: 0}", "{slot: 9}",
     "17: instruments.laser.options.slot: must be 0..4, not 9"),
    ("driver-option-not-in-list", MZI, "options: {variant: N7745A}", "options: {variant: N7799A}",
     "28: instruments.pm.options.variant: 'N7799A': expected one of"),
    ("limit-beyond-hardware", MZI, "power: [1.0e-6, 5.0e-3]", "power: [1.0e-6, 5.0]",
     "19: instruments.laser.limits.power: soft limits [1e-06, 5] exceed the hardware range"),
    ("limit-on-no-parameter", MZI, "power: [1.0e-6, 5.0e-3]", "volume: [0, 1]",
     "19: instruments.laser.limits.volume: no parameter 'volume' to limit"),
    ("unparsable-address", MZI, "    driver: keysight_8164b",
     "    driver: keysight_8164b\n    simulate: false\n    address: tcp://host:port",
     "18: instruments.laser.address: 'tcp://host:port': "),
    ("missing-address", MZI, "    driver: keysight_8164b", "    driver: keysight_8164b\n    simulate: false",
     "15: instruments.laser.address: needed unless the instrument is simulated"),
    ("uses-missing-instrument", THZ, "uses: {source: synth}", "uses: {source: synthesizer}",
     "9: instruments.multiplier.uses.source: no other instrument named 'synthesizer'"),
    ("uses-unknown-role", THZ, "uses: {source: synth}", "uses: {sorce: synth}",
     "9: instruments.multiplier.uses.sorce: driver vdi_multiplier uses no 'sorce'"),
    ("sim-for-driver-without-one", THZ, "    options: {band: WR-10}", "    options: {band: WR-10}\n    sim: {n: 1}",
     "11: instruments.multiplier.sim: driver 'vdi_multiplier' has no simulator"),
    ("transport-unknown-setting", THZ, "{timeout: 1.0}", "{timeout: 1.0, baud: 9600}",
     "14: instruments.lockin.transport.baud: unknown option 'baud' for a link"),
    ("transport-setting-type", THZ, "{timeout: 1.0}", "{timeout: soon}",
     "14: instruments.lockin.transport.timeout: Input should be a valid number"),
    ("unknown-field", THZ, "    options: {band: WR-10}", "    options: {band: WR-10}\n    colour: red",
     "11: instruments.multiplier.colour: unknown field 'colour'"),
    ("unknown-driver", THZ, "driver: keysight_e8257d", "driver: e8257",
     "5: instruments.synth.driver: unknown driver 'e8257'"),
    ("limits-reversed", THZ, "[12.5e9, 18.33e9]", "[18.33e9, 12.5e9]",
     "6: instruments.synth.limits: frequency: low limit 1.833e+10 above high limit 1.25e+10"),
]


@contextmanager
def nothing_started() -> Iterator[None]:
    """Fail if a socket is made or a simulator thread appears inside the block."""
    made: list[str] = []
    _WATCH.append(made)
    before = {t.name for t in threading.enumerate() if t.name.startswith("sim-")}
    try:
        yield
    finally:
        _WATCH.remove(made)
    after = {t.name for t in threading.enumerate() if t.name.startswith("sim-")}
    assert not made, f"sockets were made: {made}"
    assert after <= before, f"simulators started: {after - before}"


_WATCH: list[list[str]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _WATCH and event in ("socket.__new__", "socket.bind", "socket.connect"):
        for made in _WATCH:
            made.append(f"{event}{args[1:]!r}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; it records only inside nothing_started()


def _variant(base: str, old: str, new: str) -> str:
    assert base.count(old) == 1, old
    return base.replace(old, new)


@pytest.mark.parametrize("base", [MZI, THZ], ids=["mzi", "thz"])
def test_the_unbroken_files_are_accepted(base: str) -> None:
    with nothing_started():
        parse_station(base, "s.yaml")


@pytest.mark.parametrize("name,base,old,new,expected", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_a_broken_file_is_one_line_naming_file_line_and_field(name: str, base: str, old: str, new: str,
                                                               expected: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(_variant(base, old, new))
    with nothing_started(), pytest.raises(ConfigError) as info:
        Station.from_yaml(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{expected}"), message
    assert "\n" not in message


def test_the_issues_modules_example_reads_as_promised() -> None:
    with pytest.raises(ConfigError) as info:
        parse_station(_variant(MZI, "{modules: 8, ramp_step", "{modules: -8, ramp_step"), "mzi-lab.yaml")
    assert str(info.value) == "mzi-lab.yaml:22: instruments.heaters.options.modules: must be a positive integer, not -8"


def test_a_duplicate_instrument_is_refused_not_merged(tmp_path: Path) -> None:
    # PyYAML alone keeps the second 'heaters' and drops the first one's voltage limit.
    path = tmp_path / "s.yaml"
    path.write_text(MZI + "  heaters:\n    driver: qontrol_q8iv\n    options: {modules: 8}\n")
    with nothing_started(), pytest.raises(ConfigError) as info:
        load_station(path)
    assert str(info.value) == (f"{path}:30: instruments.heaters: given twice (first on line 20); "
                               "YAML would keep only the last one")


def test_anchors_and_merge_keys_are_not_duplicates() -> None:
    text = _variant(MZI, "instruments:\n", "defaults: &heater {driver: qontrol_q8iv, sim: {modules: 8}}\n"
                                         "instruments:\n").replace(
        "  heaters:\n    driver: qontrol_q8iv\n", "  heaters:\n    <<: *heater\n    driver: qontrol_q8iv\n")
    with pytest.raises(ConfigError, match=r"s.yaml:14: defaults: unknown field 'defaults'"):
        parse_station(text, "s.yaml")  # the merge itself passes; only the extra top-level field is refused


@pytest.mark.parametrize("content,expected", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "s.yaml:1: not a text file (byte 0x89 at offset 0 is not UTF-8)"),
    (b"name: bench\nsimulate: true\n\xff\xfe\n", "s.yaml:3: not a text file (byte 0xff at offset 27 is not UTF-8)"),
    (b"name: be\x00nch\n", "s.yaml:1: not valid YAML: character '\\x00' is not allowed"),
    (b"", "s.yaml: a station file is a mapping with an 'instruments' section"),
    (b"just some words\n", "s.yaml: a station file is a mapping with an 'instruments' section"),
    (b"instruments: [synth]\n", "s.yaml:1: instruments: Input should be a valid dictionary"),
    (b"instruments:\n  synth: {driver: keysight_e8257d\n", "s.yaml:3: not valid YAML"),
], ids=["png", "latin1", "nul", "empty", "scalar", "list-of-instruments", "unclosed"])
def test_files_that_are_not_station_mappings(content: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    with nothing_started(), pytest.raises(ConfigError) as info:
        load_station(path)
    assert str(info.value).startswith(str(tmp_path / expected)), str(info.value)


def test_circular_uses_are_refused_with_the_field(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("simulate: true\ninstruments:\n  a:\n    driver: vdi_multiplier\n    uses: {source: b}\n"
                    "  b:\n    driver: vdi_multiplier\n    uses: {source: a}\n")
    with nothing_started(), pytest.raises(ConfigError) as info:
        Station.from_yaml(path)
    assert str(info.value).startswith(f"{path}:5: instruments.a.uses: circular"), str(info.value)


def test_a_station_built_from_a_config_object_is_checked_before_starting() -> None:
    # A script that edits a good file's config (as the demo does with world.errors) still gets
    # the check, without line numbers, and nothing starts.
    config = parse_station(THZ, "s.yaml")
    config.instruments["synth"].sim["colour"] = "red"
    st = Station(config)
    with nothing_started(), pytest.raises(ConfigError, match=r"^station: instruments.synth.sim.colour: unknown option"):
        st.connect()
    assert not st.servers and not st.simulators


# -- the command line ----------------------------------------------------------------------------
CLI_VARIANTS = [v for v in VARIANTS if v[0] in {
    "modules-negative", "modules-word", "errors-unknown-preset", "system-n-negative", "limit-nan",
    "system-names-missing-instrument", "sim-names-missing-system", "sim-unknown-key", "input-port-out-of-range"}]


@pytest.mark.parametrize("name,base,old,new,expected", CLI_VARIANTS, ids=[v[0] for v in CLI_VARIANTS])
def test_station_check_prints_one_line_and_starts_nothing(name: str, base: str, old: str, new: str, expected: str,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(_variant(base, old, new))
    with nothing_started():
        result = CliRunner().invoke(main, ["station", "check", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:{expected}"), result.output
    assert "Traceback" not in result.output


def test_station_check_on_a_binary_file_as_a_user_runs_it(tmp_path: Path) -> None:
    path = tmp_path / "photo.yaml"
    path.write_bytes(bytes(range(256)))
    proc = subprocess.run([sys.executable, "-m", "hilt.gui.cli", "station", "check", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}:2: not a text file (byte 0x80 at offset 128 is not UTF-8); a station file is YAML text"]


@pytest.mark.parametrize("example", [stations.path(n) for n in stations.names()], ids=lambda p: p.stem)
def test_example_stations_pass_the_check_without_starting(example: Path) -> None:
    with nothing_started():
        config = load_station(example)
    assert config.instruments


# -- the entry point never shows a traceback -----------------------------------------------------
@pytest.fixture
def extra_command() -> Iterator[click.Group]:
    """The real ``hilt`` group with a test command added (and removed afterwards)."""
    yield main
    main.commands.pop("raise-for-test", None)


def _add(group: click.Group, exc: BaseException) -> None:
    @group.command("raise-for-test")
    def raise_for_test() -> None:
        raise exc


def test_a_hilt_error_is_one_line_and_exit_1(extra_command: click.Group) -> None:
    _add(extra_command, ConnectError("cannot connect to 127.0.0.1:1", instrument="synth"))
    result = CliRunner().invoke(main, ["raise-for-test"])
    assert result.exit_code == 1
    assert result.output == "hilt: error: synth: cannot connect to 127.0.0.1:1\n"


def test_a_bug_is_one_line_that_says_so_and_where_the_traceback_is(extra_command: click.Group, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HILT_LOG_DIR", str(tmp_path))
    _add(extra_command, AttributeError("'QontrolQ8iv' object has no attribute 'n_ports'"))
    result = CliRunner().invoke(main, ["raise-for-test"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("hilt: error: AttributeError: 'QontrolQ8iv' object has no attribute 'n_ports' "
                               "(this is a bug in hilt; traceback in ")
    (log,) = tmp_path.glob("traceback-*.txt")
    assert str(log) in lines[0]
    assert "Traceback (most recent call last)" in log.read_text() and "raise_for_test" in log.read_text()


def test_minus_vv_prints_the_traceback_of_a_bug(extra_command: click.Group, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HILT_LOG_DIR", str(tmp_path))
    _add(extra_command, ZeroDivisionError("division by zero"))
    result = CliRunner().invoke(main, ["-vv", "raise-for-test"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert result.output.strip().splitlines()[-1].startswith("hilt: error: ZeroDivisionError: division by zero")


def test_ctrl_c_exits_130_saying_what_it_stopped(extra_command: click.Group) -> None:
    _add(extra_command, KeyboardInterrupt())
    result = CliRunner().invoke(main, ["raise-for-test"])
    assert result.exit_code == 130
    # A command that says nothing more about itself: its name, no traceback, no "Aborted!".
    assert result.output == "hilt: stopped by Ctrl-C (SIGINT): hilt raise-for-test\n"


def test_usage_errors_stay_clicks(extra_command: click.Group) -> None:
    result = CliRunner().invoke(main, ["station", "check"])
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_the_watch_sees_a_station_that_does_start(tmp_path: Path) -> None:
    # The guard used above is only worth something if it notices a real start.
    path = tmp_path / "s.yaml"
    path.write_text(THZ)
    with pytest.raises(AssertionError, match="sockets were made"), nothing_started(), Station.from_yaml(path) as st:
        assert st.servers
