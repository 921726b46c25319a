"""Keithley 2400 SourceMeter as a single-channel heater driver (voltage source, current readback).

Bytes from the *Keithley Series 2400 SourceMeter User's Manual* (2400S-900-01): section 18 "SCPI
Command Reference" (``:SOURce:FUNCtion VOLTage``, ``:SOURce:VOLTage[:LEVel] <n>``,
``:SENSe:CURRent:PROTection <n>`` compliance, ``:OUTPut[:STATe] ON|OFF``, ``:FORMat:ELEMents
VOLTage,CURRent``, ``:READ?`` -> ``<v>,<i>`` in NR3) and section 12 "RS-232 interface" (baud,
8 data bits, no parity, terminator chosen on the front panel; CR here). Error queue
``:SYSTem:ERRor?`` -> ``<code>,"<message>"`` (appendix B lists the codes).

Voltage is ramped (``ramp_step``/``ramp_rate``) because it heats a chip; the safe state ramps to
0 V and switches the output off. As a heater driver (the ``heater_driver`` kind) it is one
channel: :meth:`Keithley2400.set_voltages` takes a vector of one voltage and switches the output
on (from 0 V, then ramped), :meth:`~Keithley2400.get_currents` answers in amperes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from hilt.drivers.replies import numbers
from hilt.drivers.scpi import ScpiInstrument
from hilt.errors import LimitError, ProtocolError
from hilt.parameters import Parameter, parse_bool
from hilt.validators import Bool, Numbers, real_vector


class Keithley2400(ScpiInstrument):
    """Voltage source with current compliance and a V/I readback."""

    model = "keithley_2400"
    kinds: ClassVar[tuple[str, ...]] = ("heater_driver",)
    simulator = "keithley_2400"
    transport_settings: ClassVar[dict[str, Any]] = {
        "baudrate": 9600, "read_termination": "\r", "write_termination": "\r", "timeout": 2.0,
    }

    voltage = Parameter(":SOUR:VOLT?", ":SOUR:VOLT {value:.6g}", unit="V", vals=Numbers(-210.0, 210.0),
                        ramp_step=0.5, ramp_rate=50.0, doc="source voltage (ramped)")
    compliance = Parameter(":SENS:CURR:PROT?", ":SENS:CURR:PROT {value:.6g}", unit="A",
                           vals=Numbers(1e-9, 1.05), doc="current compliance")
    output = Parameter(":OUTP?", ":OUTP {value}", get_parser=parse_bool, set_map={True: "ON", False: "OFF"},
                       vals=Bool(), doc="output on/off")

    def on_connect(self) -> None:
        # Fixed source function and reply format, so :READ? always answers "<v>,<i>".
        self.write(":SOUR:FUNC VOLT;:FORM:ELEM VOLT,CURR", check_errors=True)

    # -- the heater-driver kind: one channel ----------------------------------------------------
    n_channels: ClassVar[int] = 1

    @property
    def ramp_step(self) -> float:
        """Largest voltage step (V) of a ramp, the safe state's included."""
        return float(self.voltage.spec.ramp_step or 0.0)

    def validate_voltages(self, values: Sequence[float] | np.ndarray) -> list[float]:
        """A vector of one voltage checked against the range and soft limits; sends nothing."""
        try:
            vector = real_vector(values, length=1, what="voltages")
        except LimitError as exc:
            raise LimitError(str(exc), instrument=self.name, parameter="voltages") from None
        return [self.voltage.validate(float(vector[0]))]

    def set_voltages(self, values: Sequence[float] | np.ndarray) -> None:
        """The heater to ``values[0]`` volts, ramped. With the output off, the level is first
        walked to 0 V (nothing sees it), the output switched on, and the level ramped from there:
        the heater never jumps."""
        (target,) = self.validate_voltages(values)
        if not self.output.get():
            self.voltage.set_safe(0.0)
            self.output.set(True)
        self.voltage.set(target)

    def _voltages(self) -> np.ndarray:
        if not self.output.get():
            return np.zeros(1)
        return np.array([self.voltage.get()])

    def _currents(self) -> np.ndarray:
        if not self.output.get():
            return np.zeros(1)
        return np.array([self.measure()[1]])

    voltages = Parameter(lambda o: o._voltages(), unit="V", snapshot=False,
                         doc="the voltage on the heater as a one-element array: the source level while "
                             "the output is on, 0 while it is off (set it with set_voltages)")
    currents = Parameter(lambda o: o._currents(), unit="A", snapshot=False,
                         doc="the heater current as a one-element array: one :READ? while the output is "
                             "on, 0 (nothing sent) while it is off")

    def get_voltages(self) -> np.ndarray:
        """The heater-driver kind's spelling of :attr:`voltages` (V, one-element array)."""
        return self.voltages.get()

    def get_currents(self) -> np.ndarray:
        """The heater-driver kind's spelling of :attr:`currents` (A, one-element array)."""
        return self.currents.get()

    def measure(self) -> tuple[float, float]:
        """One (voltage, current) reading, V and A, from one ``:READ?``; needs the output on.

        A method, not a parameter: it gives two quantities in two units sampled together;
        :attr:`voltages` and :attr:`currents` are the parameters that read them one at a time.
        """
        reply = self.query(":READ?")
        try:
            v, i = numbers(reply)
        except ValueError:
            raise ProtocolError("expected '<volts>,<amps>'", instrument=self.name, command=":READ?", reply=reply) from None
        return v, i

    def safe_state(self) -> None:
        """Ramp to 0 V (soft limits do not bind the way there), then output off.

        The output is switched off even when the ramp cannot run (e.g. the voltage read back
        is not a value a ramp can start from): off is the safer of the two.
        """
        try:
            self.voltage.set_safe(0.0)
        finally:
            self.output.set(False)
