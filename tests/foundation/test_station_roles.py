"""Station roles (ADR 0008): ``roles:`` in a station file, checked on loading; ``station.role`` and
``station.by_kind`` on a running station."""

from __future__ import annotations

import pytest

from hilt import stations
from hilt.config import load_station, parse_station
from hilt.errors import ConfigError
from hilt.instruments.kinds import LockIn, PowerMeter, SignalSource
from hilt.roles import ROLES
from hilt.station import Station

# A bench with a synthesizer, a multiplier over it, a lock-in and a power meter (lines matter).
BENCH = """\
name: bench
simulate: true
instruments:
  synth:
    driver: keysight_e8257d
  multiplier:
    driver: vdi_multiplier
    uses: {source: synth}
    options: {band: WR-10}
  lia:
    driver: srs_sr830
  pm:
    driver: gentec_maestro
roles:
  source: synth
  multiplier: multiplier
  detector: lia
"""


def _refused(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_station(text, "bench.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_standard_roles_name_the_kinds_of_adr_0008() -> None:
    assert ROLES == {
        "source": ("signal_source",), "multiplier": ("frequency_multiplier",),
        "detector": ("lock_in", "power_meter"), "lockin": ("lock_in",), "meter": ("power_meter",),
        "laser": ("tunable_laser",), "heaters": ("heater_driver",), "stage": ("motion_stage",),
        "processor": ("photonic_processor",), "modulators": ("heater_driver",),
        "input_switch": ("optical_switch",), "slm": ("slm",), "camera": ("camera",),
        "accelerator": ("accelerator",), "neuromorphic": ("neuromorphic_board",),
    }


def test_a_role_names_an_instrument_or_an_instrument_and_a_kind() -> None:
    config = parse_station(BENCH + "  power: {instrument: pm, kind: power_meter}\n", "bench.yaml")
    assert {r: (c.instrument, c.kind) for r, c in config.roles.items()} == {
        "source": ("synth", None), "multiplier": ("multiplier", None), "detector": ("lia", None),
        "power": ("pm", "power_meter")}


def test_a_detector_may_be_a_lock_in_or_a_power_meter() -> None:
    assert parse_station(BENCH.replace("detector: lia", "detector: pm")).roles["detector"].instrument == "pm"


def test_a_role_naming_a_missing_instrument_is_refused_with_file_line_role_and_kind() -> None:
    message = _refused(BENCH.replace("detector: lia", "detector: lockin"))
    assert message == ("bench.yaml:17: roles.detector: no instrument named 'lockin' in this station "
                       "(has: synth, multiplier, lia, pm); the role needs a lock_in or power_meter")


def test_a_role_filled_by_the_wrong_kind_is_refused_with_file_line_role_and_kind() -> None:
    message = _refused(BENCH.replace("source: synth", "source: lia"))
    assert message == ("bench.yaml:15: roles.source: instrument 'lia' (driver srs_sr830) is not a "
                       "signal_source, which the role needs (it declares: lock_in)")


def test_a_role_with_its_own_kind_is_checked_against_that_kind() -> None:
    message = _refused(BENCH + "  reference:\n    instrument: pm\n    kind: lock_in\n")
    assert message.startswith("bench.yaml:18: roles.reference: instrument 'pm' (driver gentec_maestro) "
                              "is not a lock_in, which the role needs (it declares: power_meter)")


def test_an_unknown_role_without_a_kind_is_refused() -> None:
    message = _refused(BENCH + "  pump: synth\n")
    assert message.startswith("bench.yaml:18: roles.pump: unknown role 'pump' (standard roles: source, ")
    assert "{instrument: synth, kind: KIND}" in message


def test_a_role_entry_with_an_unknown_field_is_refused() -> None:
    message = _refused(BENCH + "  pump: {instrument: synth, knd: signal_source}\n")
    assert message.startswith("bench.yaml:18: roles.pump.knd: unknown field 'knd'")


def test_the_example_stations_declare_their_roles() -> None:
    roles = {name: {r: c.instrument for r, c in load_station(stations.path(name)).roles.items()}
             for name in ("thz-lab", "mzi-lab", "mzi-large", "slm-optics", "fpga", "neuromorphic")}
    assert roles == {
        "thz-lab": {"source": "synth", "multiplier": "multiplier", "detector": "lockin", "lockin": "lockin",
                    "meter": "meter", "stage": "stage"},
        "mzi-lab": {"laser": "laser", "heaters": "heaters", "meter": "pm", "modulators": "modulators",
                    "input_switch": "switch"},
        "mzi-large": {"processor": "chip"},
        "slm-optics": {"laser": "laser", "slm": "slm", "camera": "camera"},
        "fpga": {"accelerator": "fpga"},
        "neuromorphic": {"neuromorphic": "board"},
    }


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Station:
    path = tmp_path_factory.mktemp("roles") / "bench.yaml"
    path.write_text(BENCH)
    with Station.from_yaml(path) as station:
        yield station


def test_role_gives_the_instrument_the_file_names(bench: Station) -> None:
    assert bench.role("source") is bench.synth
    assert bench.role("detector") is bench.lia
    assert bench.role("detector").snapshot()["identity"]["model"] == "SR830"


def test_a_missing_role_says_which_kinds_it_needs_and_how_to_add_it(bench: Station) -> None:
    with pytest.raises(ConfigError) as info:
        bench.role("meter")
    message = str(info.value)
    assert message.startswith("station 'bench' (")
    assert message.endswith("has no role 'meter' (an instrument of kind power_meter; roles it has: source, "
                            "multiplier, detector): add it to the station file: roles: {meter: INSTRUMENT}")
    with pytest.raises(ConfigError, match=r"roles: \{pump: \{instrument: INSTRUMENT, kind: KIND\}\}$"):
        bench.role("pump")


def test_by_kind_takes_a_kind_protocol_or_its_name(bench: Station) -> None:
    assert bench.by_kind(LockIn) == bench.by_kind("lock_in") == [bench.lia]
    assert bench.by_kind(PowerMeter) == [bench.pm]
    assert bench.by_kind(SignalSource) == [bench.synth]
    assert bench.by_kind("tunable_laser") == []
    with pytest.raises(TypeError, match="not a device kind"):
        bench.by_kind(int)
