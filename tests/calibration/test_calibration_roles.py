"""Routines and the training glue reach instruments through station roles and device kinds.

A routine takes, in order, the instrument its option names (``-o laser=NAME``), the one the
station file's role names, the only instrument of the kind it needs; anything else stops it in
one line that names the role and the kind, before a byte goes to any instrument.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hilt import stations
from hilt.config import parse_station
from hilt.errors import ConfigError
from hilt.loops.calibration import parse_options, run_calibration
from hilt.loops.station import find_processor
from hilt.station import Station


def mzi_lab(**change: Any) -> Station:
    """The example MZI bench with a spare laser (not coupled to the chip) and ``change`` applied
    to its top level (``roles=...``); without its input modulators, so that the heaters are the
    only heater driver (as a bench lit through a fibre switch)."""
    config = yaml.safe_load((stations.path("mzi-lab")).read_text())
    config["instruments"].pop("modulators")
    config["world"]["systems"]["chip"].pop("modulators")
    config["roles"].pop("modulators")
    config["instruments"]["spare"] = dict(config["instruments"]["laser"])
    config.update(change)
    return Station(parse_station(yaml.safe_dump(config), "mzi-lab-spare.yaml"))


def traffic(station: Station) -> dict[str, list]:
    """Every exchange each instrument with a link of its own has had (the transport's ring)."""
    return {name: list(inst.transport.exchanges) for name, inst in station.instruments.items()
            if not inst.virtual}


def settings(station: Station) -> dict[str, list[bytes]]:
    """What each instrument was told to do: the commands sent, queries left out (the run file's
    station snapshot asks every instrument who it is and how it is set)."""
    return {name: [e.data for e in exchanges if e.direction == "->" and b"?" not in e.data]
            for name, exchanges in traffic(station).items()}


@pytest.fixture(scope="module")
def no_roles() -> Iterator[Station]:
    with mzi_lab(roles={}) as st:
        yield st


def stop_after_dark() -> dict[str, Any]:
    """Options that end a heater calibration right after its first physical step (the dark
    level: laser off, heaters at 0 V, the meter read, laser on again)."""
    stop = threading.Event()

    def progress(done: int, total: int, message: str) -> None:
        if message == "dark level measured":
            stop.set()

    return {"abort": stop, "progress": progress}


def test_two_lasers_and_no_role_stops_in_one_line_before_anything_is_sent(no_roles: Station,
                                                                          tmp_path: Path) -> None:
    before = traffic(no_roles)
    with pytest.raises(ConfigError) as info:
        run_calibration(no_roles, "mzi_heaters", out_dir=tmp_path, points=8)
    message = str(info.value)
    assert "\n" not in message
    assert "mzi_heaters needs the role 'laser' (a tunable_laser)" in message
    assert "2 instruments are a tunable_laser (laser, spare)" in message
    assert "roles: {laser: NAME}" in message and "-o laser=NAME" in message
    assert traffic(no_roles) == before
    assert not list(tmp_path.iterdir())  # no run file either


def test_a_missing_kind_names_the_role_and_the_kind(no_roles: Station, tmp_path: Path) -> None:
    before = traffic(no_roles)
    for routine, role, kind in [("thz_source_power", "multiplier", "frequency_multiplier"),
                                ("detector_dark_flat", "multiplier", "frequency_multiplier")]:
        with pytest.raises(ConfigError, match=f"{routine} needs the role '{role}' \\(a {kind}\\).*no instrument is") \
                as info:
            run_calibration(no_roles, routine, out_dir=tmp_path)
        assert "\n" not in str(info.value)
    assert traffic(no_roles) == before
    assert not list(tmp_path.iterdir())


def test_an_option_naming_an_instrument_of_another_kind_is_refused(no_roles: Station, tmp_path: Path) -> None:
    before = traffic(no_roles)
    with pytest.raises(ConfigError, match=r"option laser=pm: 'pm' is not a tunable_laser \(its driver declares: "
                                          r"power_meter\)"):
        run_calibration(no_roles, "mzi_heaters", out_dir=tmp_path, laser="pm")
    with pytest.raises(ConfigError, match="option heaters=nope: no such instrument"):
        run_calibration(no_roles, "mzi_heaters", out_dir=tmp_path, heaters="nope")
    assert traffic(no_roles) == before


def test_the_option_picks_the_instrument(no_roles: Station, tmp_path: Path) -> None:
    before = settings(no_roles)
    opts = parse_options("mzi_heaters", ["laser=laser", "points=8"])  # what -o laser=laser gives
    result = run_calibration(no_roles, "mzi_heaters", out_dir=tmp_path, **opts, **stop_after_dark())
    assert result.status == "aborted", result.summary()
    after = settings(no_roles)
    assert after["laser"] != before["laser"]
    assert after["spare"] == before["spare"]
    assert no_roles.world.get("laser.output") is False  # left safe


def test_a_role_pointing_elsewhere_is_followed(tmp_path: Path) -> None:
    with mzi_lab(roles={"laser": "spare", "heaters": "heaters", "meter": "pm"}) as st:
        before = settings(st)
        result = run_calibration(st, "mzi_heaters", out_dir=tmp_path, points=8, **stop_after_dark())
        assert result.status == "aborted", result.summary()
        after = settings(st)
        # The spare laser was switched (off for the dark level, on, then off again: safe);
        # the chip's own laser was not touched.
        assert after["spare"] != before["spare"]
        assert after["laser"] == before["laser"]
        switched = [data for data in after["spare"][len(before["spare"]):] if b":POW:STAT" in data]
        assert switched == [b":SOUR0:POW:STAT 0\n", b":SOUR0:POW:STAT 1\n", b":SOUR0:POW:STAT 0\n"]


# -- the training glue's photonic processor (hilt.loops.station.find_processor) ------------------

TWO_CHIPS = """\
name: two-chips
simulate: true
world: {seed: 5, errors: none}
instruments:
  chip:
    driver: photonic_processor
    sim: {n: 4, layers: 1}
  spare:
    driver: photonic_processor
    sim: {n: 4, layers: 1}
"""


@pytest.fixture(scope="module")
def two_chips() -> Iterator[Station]:
    with Station(parse_station(TWO_CHIPS, "two-chips.yaml")) as st:
        yield st


def test_two_processors_and_no_role_is_one_line_naming_the_role(two_chips: Station) -> None:
    before = traffic(two_chips)
    with pytest.raises(ConfigError) as info:
        find_processor(two_chips)
    message = str(info.value)
    assert "\n" not in message
    assert "training needs the role 'processor' (a photonic_processor)" in message
    assert "2 are (chip, spare)" in message and "roles: {processor: NAME}" in message
    assert traffic(two_chips) == before


def test_the_processor_role_is_followed() -> None:
    config = yaml.safe_load(TWO_CHIPS)
    config["roles"] = {"processor": "spare"}
    station = Station(parse_station(yaml.safe_dump(config), "two-chips.yaml"))
    with station:
        assert find_processor(station).name == "spare"
        assert find_processor(station, "chip").name == "chip"  # --instrument still overrides


def test_a_station_without_a_processor_names_what_it_has(no_roles: Station) -> None:
    with pytest.raises(ConfigError, match=r"training needs the role 'processor' \(a photonic_processor\).*"
                                          r"laser \(keysight_8164b\).*none is") as info:
        find_processor(no_roles)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="instrument 'heaters' is a qontrol_q8iv, not a photonic processor"):
        find_processor(no_roles, "heaters")
