"""The Station dock, driven as a user drives it: pick the simulated MZI station, connect, read the
tree, set a heater, be refused, put everything safe. What the instruments did is read from the
simulated world."""

from __future__ import annotations

import numpy as np
from gui_actions import open_channel
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QPushButton

LEFT = Qt.MouseButton.LeftButton


def type_and_set(qtbot, panel, key, text):
    spin = panel.findChild(QDoubleSpinBox, f"set:{key}")
    assert spin is not None, f"no control for {key}"
    spin.setFocus()
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.mouseClick(panel.findChild(QPushButton, f"apply:{key}"), LEFT)
    return panel.findChild(QLabel, f"error:{key}")


def test_connect_shows_every_instrument_with_kind_badge_and_light(qtbot, window, connect):
    station = connect(window, "mzi-lab")
    panel = window.station_panel
    assert window.station is station and station.connected
    rows = {panel.tree.topLevelItem(i).text(0): panel.tree.topLevelItem(i)
            for i in range(panel.tree.topLevelItemCount())}
    assert list(rows) == list(station.instruments)  # every instrument of the file, in its order
    assert {"laser", "heaters", "pm"} <= set(rows)
    for name, inst in station.instruments.items():
        assert rows[name].text(2) == (", ".join(type(inst).kinds) or "(no kind)")
    assert rows["laser"].text(2) == "tunable_laser"
    assert rows["heaters"].text(2) == "heater_driver"
    assert rows["pm"].text(2) == "power_meter"
    assert all(row.text(1) == "sim" for row in rows.values())
    assert "Qontrol" in rows["heaters"].text(3)  # its identity, as the instrument reports it
    assert all(row.toolTip(0) == "connected" for row in rows.values())
    # its parameters (the vector readouts, the full scales), then its 64 channels
    assert rows["heaters"].childCount() == len(station.instruments["heaters"].parameters) + 64
    # live readings arrive without anyone asking: every heater channel reads 0 V
    last = rows["heaters"].childCount() - 1
    qtbot.waitUntil(lambda: rows["heaters"].child(last).text(3) == "0 V", timeout=5000)
    assert rows["laser"].child(0).text(0) == "wavelength" and rows["laser"].child(0).text(3).endswith("µm")


def test_set_a_heater_then_be_refused_then_safe_state(qtbot, window, connect, heater_volts):
    station = connect(window)
    panel = window.station_panel
    open_channel(qtbot, panel, "heaters.ch3")

    error = type_and_set(qtbot, panel, "heaters.ch3.voltage", "2.5")
    qtbot.waitUntil(lambda: abs(heater_volts(station)[3] - 2.5) < 1e-3, timeout=5000)
    qtbot.waitUntil(lambda: error.text() == "", timeout=5000)
    assert np.count_nonzero(heater_volts(station)) == 1

    # 10 V is inside the hardware's 12 V but beyond the station file's 8 V limit: refused, unsent.
    error = type_and_set(qtbot, panel, "heaters.ch3.voltage", "10")
    qtbot.waitUntil(lambda: "soft limits" in error.text(), timeout=5000)
    assert "10" in error.text()
    assert abs(heater_volts(station)[3] - 2.5) < 1e-3

    qtbot.mouseClick(panel.safe_button, LEFT)
    qtbot.waitUntil(lambda: not heater_volts(station).any(), timeout=10_000)
    qtbot.waitUntil(lambda: "safe state" in panel.status.text(), timeout=5000)
    assert station.world.get("laser.output") is False


def test_the_log_dock_shows_messages_and_traffic_on_request(qtbot, window, connect):
    connect(window)
    log = window.log_panel
    qtbot.waitUntil(lambda: "station mzi-lab connected" in log.text(), timeout=5000)
    assert "hilt.io" not in log.text()
    qtbot.mouseClick(log.traffic, LEFT)
    # the live readings are instrument traffic: they appear once asked for
    qtbot.waitUntil(lambda: "hilt.io" in log.text(), timeout=5000)
    qtbot.mouseClick(log.traffic, LEFT)


def test_closing_the_window_puts_the_station_safe_and_disconnects(qtbot, window, connect, heater_volts):
    station = connect(window)
    panel = window.station_panel
    open_channel(qtbot, panel, "heaters.ch0")
    type_and_set(qtbot, panel, "heaters.ch0.voltage", "3")
    qtbot.waitUntil(lambda: heater_volts(station)[0] > 2.9, timeout=5000)
    window.close()
    assert not heater_volts(station).any()
    assert not station.connected and not station.servers
    assert window.station is None


RAMPED = """\
name: smu-bench
simulate: true
instruments:
  smu:
    driver: keithley_2400
    address: ASRL/dev/ttyUSB3::INSTR
    limits: {voltage: [-20, 20]}
"""


def test_a_ramped_parameter_says_so_and_can_be_stopped(qtbot, window, tmp_path):
    path = tmp_path / "smu-bench.yaml"
    path.write_text(RAMPED)
    panel = window.station_panel
    panel.choose(str(path))
    qtbot.mouseClick(panel.connect_button, LEFT)
    qtbot.waitUntil(lambda: panel.disconnect_button.isEnabled(), timeout=30_000)
    open_channel(qtbot, panel, "smu")
    spin = panel.findChild(QDoubleSpinBox, "set:smu.voltage")
    assert "ramps in steps of 500 mV at 50 V/s" in spin.toolTip()
    assert "station limits -20 V to 20 V" in spin.toolTip()
    stop = panel.findChild(QPushButton, "stop:smu.voltage")
    assert stop is not None and not stop.isVisible()

    error = type_and_set(qtbot, panel, "smu.voltage", "2")
    qtbot.waitUntil(lambda: error.text() == "", timeout=10_000)  # accepted: the ramp ended at 2 V
    assert not stop.isVisible()
    assert panel.station["smu"].voltage.cache == 2.0
    # Stop is the parameter's own ramp abort (an event, heard between two steps).
    panel.station["smu"].voltage._ramp_abort.clear()
    panel.control("smu.voltage").stop_button.click()
    assert panel.station["smu"].voltage._ramp_abort.is_set()


LOCKIN = """\
name: lockin-bench
simulate: true
instruments:
  lockin:
    driver: srs_sr830
    address: ASRL/dev/ttyUSB1::INSTR
"""


def test_measured_readouts_are_read_live_and_latched_flags_are_not(qtbot, window, tmp_path):
    """A lock-in's R (a readout with a unit) shows a value; its status flags, which reading
    clears, are never polled."""
    path = tmp_path / "lockin-bench.yaml"
    path.write_text(LOCKIN)
    panel = window.station_panel
    panel.choose(str(path))
    qtbot.mouseClick(panel.connect_button, LEFT)
    qtbot.waitUntil(lambda: panel.disconnect_button.isEnabled(), timeout=30_000)
    row = panel.tree.topLevelItem(0)
    children = {row.child(i).text(0): row.child(i) for i in range(row.childCount())}
    qtbot.waitUntil(lambda: children["r"].text(3).endswith("V"), timeout=10_000)
    assert children["theta"].text(3) != ""
    assert children["status"].text(3) == "" and children["overloaded"].text(3) == ""
