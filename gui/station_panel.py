"""The Station dock: open a station, connect it, see every instrument, set its parameters.

Pick a bundled example station from the list (``hilt station list`` shows the same ones) or open
a station file of your own, then Connect. The tree shows every instrument with its kind(s), a
``sim``/``real`` badge, a connection light and its identity; under it its parameters and
channels, with live readings (polled at about 2 Hz on a worker thread while "Live" is ticked) and
a control for every parameter that can be set. A value the driver refuses (outside the hardware
range or the station file's limits) or an error the instrument reports is shown in red beside
the control, and nothing is sent. "Safe state" puts every instrument of the station in its safe
state (heaters ramped to 0 V, outputs off).

Nothing here talks to an instrument on the UI thread: connect, disconnect, every set, the safe
state and the readings run as :class:`hilt.gui.jobs.Job` s over the same Python API a script
uses (``Station.from_yaml``, ``connect``, ``param.set``, ``safe_state``, ``close``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hilt import stations
from hilt.gui.jobs import Job, one_line
from hilt.gui.widgets import ParameterControl, format_value

log = logging.getLogger("hilt.gui")

#: Readings polled per second while "Live" is ticked.
POLL_HZ = 2.0

#: Vector readings a kind promises, shown on the channel rows of the parameter they read:
#: (kind, method, channel parameter it fills, unit).
KIND_READINGS: tuple[tuple[str, str, str, str], ...] = (
    ("heater_driver", "get_voltages", "voltage", "V"),
    ("power_meter", "read_all", "power", "W"),
)

#: Array readouts that a kind reading above already shows (read once, not twice, per poll).
_KIND_READING_SOURCES = frozenset({"voltages", "powers"})

COL_NAME, COL_BADGE, COL_KIND, COL_VALUE, COL_SET = range(5)
KEY = Qt.ItemDataRole.UserRole


def _light(color: str) -> QIcon:
    pixmap = QPixmap(10, 10)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def identity_text(inst: Any) -> str:
    """Vendor, model, serial and firmware in one line (read on a worker: it may query)."""
    try:
        ident = inst.identify()
    except Exception as exc:  # noqa: BLE001 - shown in the tree, not raised
        return f"identity unknown: {one_line(exc)}"
    return " ".join(v for v in (ident.get("vendor"), ident.get("model"), ident.get("serial"),
                                ident.get("firmware")) if v)


class _Failed:
    """A reading that failed; shown as its message."""

    def __init__(self, message: str) -> None:
        self.message = message


class StationPanel(QWidget):
    """The Station dock's contents. :attr:`station` is the connected station, or None;
    :attr:`stationChanged` is emitted with it on every connect (and with None on disconnect)."""

    stationChanged = Signal(object)  # noqa: N815 - Qt's naming, like the window's own signals
    #: Emitted when a poll of the readings has been shown (tests and plots wait on it).
    readingsShown = Signal()  # noqa: N815
    #: Emitted when a connect attempt has ended, with True if the station is connected.
    connectEnded = Signal(bool)  # noqa: N815
    #: Emitted when the user asks for the safe state, before it is sent: the window stops the
    #: jobs that drive the station (a training's own finally puts it safe too).
    safeStateRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.station: Any = None
        self.jobs: list[Job] = []  # kept alive until they end
        self._poller: Job | None = None
        self._connecting: Job | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._params: dict[str, Any] = {}
        self._controls: dict[str, ParameterControl] = {}
        self._units: dict[str, str] = {}
        self._wanted: tuple[tuple[str, Callable[[], Any]], ...] = ()
        #: The job that drives the station now (a calibration, a training), or None.
        self.held_by: str | None = None

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.choice = QComboBox()
        self.choice.setObjectName("stationChoice")
        self.choice.setToolTip("A bundled example station, or a station file you opened")
        for name in stations.names():
            self.choice.addItem(name, name)
        row.addWidget(self.choice, 1)
        self.open_button = QPushButton("Open…")
        self.open_button.setObjectName("openStation")
        self.open_button.clicked.connect(self._open_file)
        row.addWidget(self.open_button)
        layout.addLayout(row)

        row = QHBoxLayout()
        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName("connect")
        self.connect_button.clicked.connect(self.connect_station)
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.setObjectName("disconnect")
        self.disconnect_button.clicked.connect(self.disconnect_station)
        self.safe_button = QPushButton("Safe state")
        self.safe_button.setObjectName("safeState")
        self.safe_button.setToolTip("Every instrument to its safe state: heaters to 0 V, outputs off")
        self.safe_button.clicked.connect(self.safe_state)
        self.live = QCheckBox("Live")
        self.live.setObjectName("live")
        self.live.setChecked(True)
        self.live.setToolTip(f"Read the instruments about {POLL_HZ:g} times a second")
        self.live.toggled.connect(self._live_toggled)
        for w in (self.connect_button, self.disconnect_button, self.safe_button, self.live):
            row.addWidget(w)
        layout.addLayout(row)

        self.tree = QTreeWidget()
        self.tree.setObjectName("instruments")
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Name", "", "Kind / unit", "Value", "Set"])
        self.tree.itemExpanded.connect(self._expanded)
        self.tree.itemCollapsed.connect(lambda _item: self._update_wanted())
        layout.addWidget(self.tree, 1)

        self.status = QLabel("Not connected.")
        self.status.setObjectName("stationStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self._update_buttons()

    # -- choosing a station --------------------------------------------------------------------
    def choose(self, station: str) -> None:
        """Select a bundled station by name or a station file by path (added to the list)."""
        index = self.choice.findData(station)
        if index < 0:
            self.choice.addItem(Path(station).name if Path(station).suffix else station, station)
            index = self.choice.count() - 1
            self.choice.setItemData(index, station, Qt.ItemDataRole.ToolTipRole)
        self.choice.setCurrentIndex(index)

    def chosen(self) -> str:
        return str(self.choice.currentData() or "")

    def _open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a station file", "", "Station files (*.yaml *.yml)")
        if path:
            self.choose(path)

    # -- jobs ----------------------------------------------------------------------------------
    def _run(self, fn: Callable[..., Any], name: str, *, on_done: Callable[[Any], None] | None = None,
             on_fail: Callable[[str], None] | None = None, background: bool = False) -> Job:
        job = Job(fn, name, self, background=background)
        self.jobs.append(job)
        if on_done is not None:
            job.finished.connect(on_done)
        if on_fail is not None:
            job.failed.connect(on_fail)
        job.done.connect(lambda: self.jobs.remove(job) if job in self.jobs else None)
        return job.start()

    # -- connect / disconnect ------------------------------------------------------------------
    def connect_station(self) -> None:
        """Read the chosen station file and connect every instrument (on a worker)."""
        if self.station is not None or self._connecting is not None:
            return
        chosen = self.chosen()
        if not chosen:
            self._say("Choose a station first.")
            return

        def connect(control: Any, report: Any) -> Any:
            from hilt.station import Station

            station = Station.from_yaml(stations.find(chosen), default_clock="real")
            station.connect()
            identities = {name: identity_text(inst) for name, inst in station.instruments.items()}
            return station, identities

        self._say(f"Connecting {chosen}…")
        self._connecting = self._run(connect, f"connect {chosen}", on_done=self._connected,
                                     on_fail=self._connect_failed)
        self._update_buttons()

    def _connected(self, result: Any) -> None:
        self._connecting = None
        station, identities = result
        self.station = station
        self._build_tree(station, identities)
        sims = sum(1 for n in station.instruments if n in station.simulators)
        self._say(f"Connected {station.name}: {len(station.instruments)} instruments ({sims} simulated).")
        log.info("station %s connected", station.name)
        self._update_buttons()
        self._start_polling()
        self.stationChanged.emit(station)
        self.connectEnded.emit(True)

    def _connect_failed(self, message: str) -> None:
        self._connecting = None
        self._say(f"Could not connect: {message}")
        self._update_buttons()
        self.connectEnded.emit(False)

    def disconnect_station(self) -> None:
        """Stop the readings, put the station safe and close it (on a worker)."""
        station = self.station
        if station is None:
            return
        poller = self._stop_polling()

        def disconnect(control: Any, report: Any) -> None:
            if poller is not None:
                poller.wait(10)
            station.close()

        self.station = None
        self.tree.clear()
        self._forget_items()
        self._say(f"Disconnecting {station.name}…")
        self._update_buttons()
        self.stationChanged.emit(None)
        self._run(disconnect, f"disconnect {station.name}",
                  on_done=lambda _r: self._say(f"Disconnected {station.name}; its instruments are safe."),
                  on_fail=lambda m: self._say(f"Disconnected {station.name}, but: {m}"))

    def shutdown(self, timeout: float = 30.0) -> None:
        """For the window's close: stop the readings, put the station safe, close it and wait.

        The closing runs on a worker like everything else; this waits for it (and for a connect
        under way, whose station is then closed too)."""
        poller = self._stop_polling()
        if poller is not None:
            poller.wait(timeout)
        stations_to_close = [self.station] if self.station is not None else []
        if self._connecting is not None:
            self._connecting.wait(timeout)
            if self._connecting.result is not None:
                stations_to_close.append(self._connecting.result[0])
            self._connecting = None
        self.station = None
        for station in stations_to_close:
            closing = Job(lambda control, report, st=station: st.close(), f"close {station.name}").start()
            closing.wait(timeout)
            if closing.error is not None:
                log.error("closing %s: %s", station.name, one_line(closing.error))
        for job in list(self.jobs):
            job.wait(timeout)

    # -- the tree ------------------------------------------------------------------------------
    def _forget_items(self) -> None:
        self._items.clear()
        self._params.clear()
        self._controls.clear()
        self._units.clear()
        self._wanted = ()

    def _build_tree(self, station: Any, identities: dict[str, str]) -> None:
        self.tree.clear()
        self._forget_items()
        for name, inst in station.instruments.items():
            item = QTreeWidgetItem([name, "sim" if name in station.simulators else "real",
                                    ", ".join(getattr(type(inst), "kinds", ())) or "(no kind)",
                                    identities.get(name, ""), ""])
            item.setData(COL_NAME, KEY, name)
            item.setToolTip(COL_BADGE, "simulated: a simulator on this computer answers"
                            if name in station.simulators else "a real instrument")
            item.setForeground(COL_BADGE, QColor("#1565c0" if name in station.simulators else "#2e7d32"))
            self._set_light(item, inst.connected)
            self.tree.addTopLevelItem(item)
            self._items[name] = item
            for pname, param in inst.parameters.items():
                self._add_param(item, f"{name}.{pname}", param)
            for ch in inst.channels:
                ch_item = QTreeWidgetItem([ch.name, "", "", "", ""])
                key = f"{name}.{ch.name}"
                ch_item.setData(COL_NAME, KEY, key)
                item.addChild(ch_item)
                self._items[key] = ch_item
                for pname, param in ch.parameters.items():
                    self._add_param(ch_item, f"{key}.{pname}", param)
        for i in range(self.tree.topLevelItemCount()):
            self.tree.topLevelItem(i).setExpanded(True)  # creates the instruments' own controls
        for col in (COL_NAME, COL_BADGE, COL_KIND):
            self.tree.resizeColumnToContents(col)
        self._update_wanted()

    def _add_param(self, parent: QTreeWidgetItem, key: str, param: Any) -> None:
        item = QTreeWidgetItem([param.name, "", param.unit or "", "", ""])
        item.setData(COL_NAME, KEY, key)
        if param.spec.doc:
            item.setToolTip(COL_NAME, param.spec.doc)
        parent.addChild(item)
        self._items[key] = item
        self._params[key] = param
        self._units[key] = param.unit or ""
        if param.cache is not None:
            item.setText(COL_VALUE, format_value(param.cache, param.unit))

    def _expanded(self, item: QTreeWidgetItem) -> None:
        # Controls are made when their row is first shown: a 64-channel driver has 200 of them.
        for i in range(item.childCount()):
            child = item.child(i)
            key = child.data(COL_NAME, KEY)
            param = self._params.get(key)
            if param is not None and param.settable and key not in self._controls:
                control = ParameterControl(key, param)
                control.requested.connect(lambda value, k=key: self.set_parameter(k, value))
                control.setEnabled(not self.held_by)
                self._controls[key] = control
                self.tree.setItemWidget(child, COL_SET, control)
        self._update_wanted()

    def _set_light(self, item: QTreeWidgetItem, connected: bool) -> None:
        item.setIcon(COL_NAME, _light("#43a047" if connected else "#e53935"))
        item.setToolTip(COL_NAME, "connected" if connected else "not connected (the link dropped)")
        item.setData(COL_BADGE, KEY, bool(connected))

    def control(self, key: str) -> ParameterControl | None:
        """The control of parameter ``key`` (``"heaters.ch0.voltage"``), once its row was shown."""
        return self._controls.get(key)

    def item(self, key: str) -> QTreeWidgetItem | None:
        """The tree row of an instrument, channel or parameter by its dotted name."""
        return self._items.get(key)

    # -- setting -------------------------------------------------------------------------------
    def set_parameter(self, key: str, value: Any) -> None:
        """Set parameter ``key`` to ``value`` on a worker; the result is shown beside its control."""
        param = self._params[key]
        control = self._controls.get(key)
        if control is not None:
            control.sending(value)

        def set_it(control_: Any, report: Any) -> Any:
            param.set(value)
            return param.get() if param.gettable else value

        def done(read: Any) -> None:
            if control is not None:
                control.accepted(read)
            item = self._items.get(key)
            if item is not None:
                item.setText(COL_VALUE, format_value(read, param.unit))

        def failed(message: str) -> None:
            log.warning("%s: %s", key, message)
            if control is not None:
                control.show_error(message)

        self._run(set_it, f"set {key}", on_done=done, on_fail=failed)

    def safe_state(self) -> None:
        """Every instrument of the station to its safe state (on a worker); a calibration or a
        training that drives the station is stopped first."""
        station = self.station
        if station is None:
            return
        self.safeStateRequested.emit()
        for param in self._params.values():  # a hand-started ramp stops where it is
            if param.spec.ramp_step is not None:
                param.abort_ramp()

        def done(failures: Any) -> None:
            if failures:
                self._say("Safe state failed for " + "; ".join(f"{n}: {one_line(e)}" for n, e in failures.items()))
            else:
                self._say(f"{station.name}: every instrument is in its safe state.")
            for control in self._controls.values():
                control.forget_edit()  # show what the instruments now read

        self._say("Putting every instrument in its safe state…")
        self._run(lambda control, report: station.safe_state(), "safe state", on_done=done,
                  on_fail=lambda m: self._say(f"Safe state failed: {m}"))

    # -- live readings -------------------------------------------------------------------------
    def _update_wanted(self) -> None:
        """What the poller reads: every instrument's own parameters, the kinds' vector readings
        and the parameters of channels that are open in the tree."""
        station = self.station
        if station is None:
            self._wanted = ()
            return
        wanted: list[tuple[str, Callable[[], Any]]] = []
        for name, inst in station.instruments.items():
            wanted.append((f"{name}#light", lambda inst=inst: inst.connected))
            covered: set[str] = set()
            for kind, method, pname, _unit in KIND_READINGS:
                if kind in getattr(type(inst), "kinds", ()) and hasattr(inst, method):
                    wanted.append((f"{name}#{pname}", getattr(inst, method)))
                    covered.add(pname)
            for pname, param in inst.parameters.items():
                if not param.gettable or pname in _KIND_READING_SOURCES:
                    continue
                # Settings (in snapshots) and measured quantities (a unit: a lock-in's R, a
                # stage's position) are read live; a readout without a unit may be a latched
                # flag that reading clears (a lock-in's overload status), so it is left alone.
                if param.spec.snapshot or param.unit:
                    wanted.append((f"{name}.{pname}", param.get))
            for ch in inst.channels:
                ch_item = self._items.get(f"{name}.{ch.name}")
                if ch_item is None or not ch_item.isExpanded():
                    continue
                for pname, param in ch.parameters.items():
                    if param.gettable and pname not in covered:
                        wanted.append((f"{name}.{ch.name}.{pname}", param.get))
        self._wanted = tuple(wanted)

    def hold(self, user: str | None) -> None:
        """While ``user`` (a job's name) drives the station, hold the live readings and the hand
        controls: nothing else talks to the instruments between the job's own commands, and a
        knob turned by hand cannot spoil a calibration. Safe state stays. ``None`` releases."""
        if user == self.held_by:
            return
        self.held_by = user
        if user:
            self._stop_polling()
            self._say(f"{user} is driving the station: live readings and hand controls are "
                      "held until it ends. Safe state stops it.")
        else:
            self._start_polling()
            if self.station is not None:
                self._say(f"{self.station.name}: live readings and hand controls are back.")
        for control in self._controls.values():
            control.setEnabled(not user)
        self._update_buttons()

    def _start_polling(self) -> None:
        if (self._poller is not None or not self.live.isChecked() or self.station is None
                or self.held_by):
            return

        def poll(control: Any, report: Callable[[object], None]) -> None:
            while True:
                control.checkpoint()
                started = time.monotonic()
                values: dict[str, Any] = {}
                for key, read in self._wanted:  # replaced whole by the UI thread, never mutated
                    try:
                        values[key] = read()
                    except Exception as exc:  # noqa: BLE001 - a failed reading is shown, polling goes on
                        values[key] = _Failed(one_line(exc))
                report(values)
                control.wait(max(0.05, 1 / POLL_HZ - (time.monotonic() - started)))

        self._poller = self._run(poll, "readings", background=True)
        self._poller.progress.connect(self._show_readings)

    def _stop_polling(self) -> Job | None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.abort()
            # A reading already on its way must not land in the next station's tree.
            poller.progress.disconnect(self._show_readings)
        return poller

    def _live_toggled(self, on: bool) -> None:
        if on:
            self._start_polling()
        else:
            self._stop_polling()

    def _show_readings(self, values: dict[str, Any]) -> None:
        station = self.station
        if station is None:
            return
        for key, value in values.items():
            if key.endswith("#light"):
                item = self._items.get(key[: -len("#light")])
                if item is not None and not isinstance(value, _Failed):
                    self._set_light(item, bool(value))
                continue
            if "#" in key:  # a kind's vector reading, spread over the channel rows
                name, pname = key.split("#")
                inst = station.instruments.get(name)
                if inst is None:
                    continue
                if isinstance(value, _Failed):
                    self._items[name].setText(COL_VALUE, value.message)
                    continue
                array = np.atleast_1d(np.asarray(value, dtype=float))
                unit = next((u for _k, _m, p, u in KIND_READINGS if p == pname), "")
                if len(inst.channels) == array.size:
                    for ch, v in zip(inst.channels, array, strict=True):
                        self._show_one(f"{name}.{ch.name}.{pname}", float(v))
                        self._items[f"{name}.{ch.name}"].setText(COL_VALUE, format_value(float(v), unit))
                continue
            self._show_one(key, value)
        self.readingsShown.emit()

    def _show_one(self, key: str, value: Any) -> None:
        item = self._items.get(key)
        if item is None:
            return
        if isinstance(value, _Failed):
            item.setText(COL_VALUE, value.message)
            item.setForeground(COL_VALUE, QColor("#b00020"))
            return
        item.setText(COL_VALUE, format_value(value, self._units.get(key, "")))
        item.setForeground(COL_VALUE, self.tree.palette().text().color())
        control = self._controls.get(key)
        if control is not None:
            control.show_value(value)

    # -- state ---------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.status.setText(text)

    def _update_buttons(self) -> None:
        connected = self.station is not None
        busy = self._connecting is not None
        self.connect_button.setEnabled(not connected and not busy)
        self.choice.setEnabled(not connected and not busy)
        self.open_button.setEnabled(not connected and not busy)
        self.disconnect_button.setEnabled(connected and not self.held_by)
        self.safe_button.setEnabled(connected)
