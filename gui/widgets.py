"""Small widgets the panels share: a parameter's control, generated from its declaration, and
readable numbers with SI prefixes.

A :class:`ParameterControl` is made from a driver's parameter (``laser.power``,
``heaters.ch0.voltage``): a spin box in the parameter's unit with its hardware range for numbers
(the station's soft limits in the tooltip and beside it; a value beyond them is sent to the
driver, which refuses it, so the refusal is the driver's own words), a check box for on/off, a
drop-down for a fixed set of values. It never talks to the instrument: it emits
:attr:`ParameterControl.requested` with the value and the panel runs the set on a worker.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from hilt.validators import Bool, Enum, Ints, Numbers

_PREFIXES = {-12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}
# Units shown with an SI prefix; others (dBm, deg, %) are shown as they are.
_PREFIXABLE = {"V", "A", "W", "Hz", "m", "s", "Ω", "ohm"}


def si_exponent(magnitude: float) -> int:
    """The power of 1000 that puts ``magnitude`` in [1, 1000), within pico to giga."""
    if magnitude == 0 or not math.isfinite(magnitude):
        return 0
    return max(-12, min(9, 3 * math.floor(math.log10(abs(magnitude)) / 3)))


def format_value(value: Any, unit: str = "") -> str:
    """A reading as a person reads it: ``1.55 µm``, ``2.5 V``, ``on``, ``[8 values, max 3 mW]``."""
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    if isinstance(value, (int, np.integer)) and not unit:
        return str(int(value))
    if isinstance(value, (float, int, np.floating, np.integer)):
        v = float(value)
        if unit in _PREFIXABLE:
            exp = si_exponent(v)
            return f"{v / 10 ** exp:.4g} {_PREFIXES[exp]}{unit}"
        return f"{v:.6g} {unit}".rstrip()
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size:
        return f"[{value.size} values, max {format_value(float(np.max(value)), unit)}]"
    return str(value)


class ParameterControl(QWidget):
    """The control for one settable parameter, with the place its refusals are shown.

    ``requested(value)`` is emitted when the user asks for a value (Enter or "Set" on a number,
    a click on a check box, a choice in a drop-down). :meth:`show_error` puts a refusal beside
    the control; :meth:`show_value` shows what the instrument reads, unless the user is in the
    middle of typing a new value.
    """

    requested = Signal(object)

    def __init__(self, key: str, param: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.param = param
        self.unit = param.unit or ""
        self.scale = 1.0
        self._dirty = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        vals = param.vals
        self.editor: QWidget
        if isinstance(vals, Bool):
            box = QCheckBox("on")
            box.clicked.connect(lambda checked: self.requested.emit(bool(checked)))
            self.editor = box
        elif isinstance(vals, Enum):
            combo = QComboBox()
            for v in vals.values:
                combo.addItem(str(v), v)
            combo.activated.connect(lambda i: self.requested.emit(combo.itemData(i)))
            self.editor = combo
        elif isinstance(vals, Numbers) or vals is None:
            self.editor = self._number_editor(vals)
        else:  # a validator this app does not know: text, checked by the driver
            edit = QLineEdit()
            edit.returnPressed.connect(lambda: self.requested.emit(edit.text()))
            self.editor = edit
        self.editor.setObjectName(f"set:{key}")
        self.editor.setToolTip(self._limits_text())
        layout.addWidget(self.editor)
        if isinstance(self.editor, QDoubleSpinBox):
            self.set_button = QPushButton("Set")
            self.set_button.setObjectName(f"apply:{key}")
            self.set_button.clicked.connect(self._request_number)
            layout.addWidget(self.set_button)
        if param.spec.ramp_step is not None:
            # A ramp takes seconds; it can be stopped where it is (the value stays there).
            self.stop_button = QPushButton("Stop")
            self.stop_button.setObjectName(f"stop:{key}")
            self.stop_button.setToolTip("Stop the ramp where it is")
            self.stop_button.clicked.connect(param.abort_ramp)  # a thread-safe event
            self.stop_button.hide()
            layout.addWidget(self.stop_button)
        else:
            self.stop_button = None
        self.error = QLabel("")
        self.error.setObjectName(f"error:{key}")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(False)
        layout.addWidget(self.error, 1)
        if param.cache is not None:
            self.show_value(param.cache)

    # -- numbers -------------------------------------------------------------------------------
    def _number_editor(self, vals: Numbers | None) -> QDoubleSpinBox:
        lo, hi = vals.range if vals is not None else (-math.inf, math.inf)
        if self.unit in _PREFIXABLE:
            # Show 1550 nm and 2 mW, not 0.00000155 m and 0.002 W.
            bound = max(abs(b) for b in (lo, hi) if math.isfinite(b)) if any(map(math.isfinite, (lo, hi))) else 1.0
            self.scale = 10.0 ** si_exponent(bound / 10 if bound >= 10 else bound)
        spin = QDoubleSpinBox()
        spin.setKeyboardTracking(False)
        spin.setDecimals(0 if isinstance(vals, Ints) else 4)
        spin.setMinimumWidth(130)
        big = 1e12
        spin.setRange(lo / self.scale if math.isfinite(lo) else -big, hi / self.scale if math.isfinite(hi) else big)
        exp = round(math.log10(self.scale)) if self.scale != 1 else 0
        shown_unit = f"{_PREFIXES.get(exp, '')}{self.unit}"
        if shown_unit:
            spin.setSuffix(f" {shown_unit}")
        spin.lineEdit().returnPressed.connect(self._request_number)
        spin.lineEdit().textEdited.connect(self._edited)
        spin.valueChanged.connect(self._edited)
        return spin

    def _edited(self, *_: object) -> None:
        if not self.editor.signalsBlocked():
            self._dirty = True

    def _request_number(self) -> None:
        spin = self.editor
        assert isinstance(spin, QDoubleSpinBox)
        spin.interpretText()
        value: Any = spin.value() * self.scale
        if isinstance(self.param.vals, Ints):
            value = int(round(value))
        self.requested.emit(value)

    def _limits_text(self) -> str:
        parts = []
        rng = self.param.vals.range if self.param.vals is not None else None
        if rng:
            parts.append(f"hardware range {format_value(rng[0], self.unit)} to {format_value(rng[1], self.unit)}")
        if self.param.soft_limits:
            lo, hi = self.param.soft_limits
            parts.append(f"station limits {format_value(lo, self.unit)} to {format_value(hi, self.unit)}")
        spec = self.param.spec
        if spec.ramp_step is not None:
            rate = f" at {format_value(spec.ramp_rate, self.unit)}/s" if spec.ramp_rate else ""
            parts.append(f"ramps in steps of {format_value(spec.ramp_step, self.unit)}{rate}")
        doc = spec.doc
        return "; ".join(([doc] if doc else []) + parts)

    # -- what the panel tells it ---------------------------------------------------------------
    def show_value(self, value: Any) -> None:
        """Show the instrument's value in the control, unless the user is editing it."""
        if self._dirty or self.editor.hasFocus():
            return
        self.editor.blockSignals(True)
        try:
            if isinstance(self.editor, QCheckBox):
                self.editor.setChecked(bool(value))
            elif isinstance(self.editor, QComboBox):
                index = self.editor.findData(value)
                if index >= 0:
                    self.editor.setCurrentIndex(index)
            elif isinstance(self.editor, QDoubleSpinBox):
                try:
                    self.editor.setValue(float(value) / self.scale)
                except (TypeError, ValueError):
                    pass
            elif isinstance(self.editor, QLineEdit):
                self.editor.setText(str(value))
        finally:
            self.editor.blockSignals(False)

    def forget_edit(self) -> None:
        """Let the next reading replace a value typed but not sent."""
        self._dirty = False

    def sending(self, value: Any) -> None:
        """A value is on its way; a ramped one shows where it goes and a Stop button."""
        if self.stop_button is None:
            self.error.setText("…")
            return
        self.error.setStyleSheet("")
        self.error.setText(f"ramping to {format_value(value, self.unit)}…")
        self.stop_button.show()

    def _sent(self) -> None:
        if self.stop_button is not None:
            self.stop_button.hide()
        self.error.setStyleSheet("color: #b00020;")

    def accepted(self, value: Any) -> None:
        """The instrument took the value (and reads ``value``): clear any refusal."""
        self._sent()
        self._dirty = False
        self.error.setText("")
        self.error.setToolTip("")
        self.show_value(value)

    def show_error(self, message: str) -> None:
        """Show why the value was refused (a limit, or what the instrument said)."""
        self._sent()
        self.error.setText(message)
        self.error.setToolTip(message)
        # The check box shows what the instrument has, not what was asked for.
        self._dirty = False
        if isinstance(self.editor, QCheckBox) and self.param.cache is not None:
            self.show_value(self.param.cache)

