"""Stanford Research Systems SR860 500 kHz DSP lock-in amplifier.

Bytes from the *SR860 500 kHz DSP Lock-in Amplifier* operation manual (rev. 2.x), chapter 4
"Programming" / "Remote Operation":

* "Command syntax": a mnemonic, a space, comma-separated arguments; commands end with LF
  (RS-232 with LF termination selected on the front panel; the raw TCP socket on port 23 the
  same way); queries append ``?``; several commands per line separated by ``;``.
* Reference commands: ``FREQ`` (1 mHz .. 500 kHz), ``SLVL`` (sine out 1 nV .. 2 V), ``PHAS``
  (+-360000 deg, wrapped to +-180).
* Signal/filter commands: ``SCAL i`` sensitivity with **index 0 = 1 V** down to 27 = 1 nV (1-2-5
  steps; 28 ranges), ``OFLT i`` time constant 0 = 1 us .. 21 = 30 ks (1-3 steps), ``OFSL i``
  (6/12/18/24 dB/oct).
* Auto functions: ``APHS`` (auto phase), ``ASCL`` (auto scale = sensitivity; the SR860's
  counterpart of the SR830's ``AGAN``), ``ARNG`` (auto input range).
* Data transfer: ``OUTP? j`` with **0-based** codes (0 X, 1 Y, 2 R, 3 theta), ``SNAP? j,k{,l}``
  (2 or 3 values, same codes), comma-separated replies.
* Status: ``*CLS``, ``*ESR?`` (IEEE 488.2 standard event bits: 2 query error, 3 device error,
  4 execution error, 5 command error), ``ERRS?``, ``LIAS?``.

Not retrieved from the manual itself (the stored copies of the SR860 operation manual give only
its first pages); these facts are corroborated by an independent SR86x driver (QCoDeS
``SR86x``), which uses the same bytes: ``SCAL`` index 0 = 1 V .. 27 = 1 nV, ``OFLT`` 0 = 1 us ..
21 = 30 ks, ``ASCL`` / ``ARNG`` / ``APHS``, ``OUTP? 0..3`` for X/Y/R/theta, LF termination.

Unverified: the ``LIAS?`` bit layout (taken to match the SR830's low bits: 0 input, 1 filter,
2 output overload, 3 unlock); the ``ERRS?`` bits (reported by number only); the ``*IDN?`` reply
(``Stanford_Research_Systems,SR860,<serial>,v<version>`` assumed, as the simulator answers); whether the raw TCP
socket on port 23 is plain (no telnet negotiation, no prompt, no echo), as implemented, or
telnet-like. ``CAPTURE*`` buffer commands are not used.

Transports: a VISA socket resource ``TCPIP::<host>::23::SOCKET`` (LF both ways) or RS-232 (pass
``baudrate=`` matching the front panel; LF). Safe state: sine output to its minimum (1 nV).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.drivers.replies import number
from hilt.drivers.srs_sr830 import (
    FILTER_SLOPES,
    SrsLockIn,
    TableValue,
    _filter_slope,
    _table_parser,
)
from hilt.parameters import Parameter
from hilt.validators import Enum, Numbers

SENSITIVITIES_860: tuple[float, ...] = tuple(
    float(f"{m * 10.0**e:.12g}") for e in range(0, -10, -1) for m in (1, 0.5, 0.2))[:28]
TIME_CONSTANTS_860: tuple[float, ...] = tuple(
    float(f"{m * 10.0**e:.12g}") for e in range(-6, 5) for m in (1, 3))

ESR_ERRORS_860: dict[int, str] = {
    2: "QYE: query error (reply lost or no reply to read)",
    3: "DDE: device dependent error",
    4: "EXE: execution error (parameter out of range or not allowed now)",
    5: "CME: command error (unknown command or bad syntax)",
}
ERRS_BITS_860: dict[int, str] = {bit: f"error status bit {bit}" for bit in range(8)}

_SENS = TableValue(SENSITIVITIES_860, "V")
_TC = TableValue(TIME_CONSTANTS_860, "s")


class SR860(SrsLockIn):
    """SR860 over its raw TCP socket (or RS-232): reference, gain, filter, reads, auto functions."""

    model = "srs_sr860"
    kinds: ClassVar[tuple[str, ...]] = ("lock_in",)
    simulator = "srs_sr860"
    transport_settings: ClassVar[dict[str, Any]] = {
        "write_termination": "\n", "read_termination": "\n", "timeout": 2.0,
    }
    sensitivity_table = _SENS
    time_constant_table = _TC
    output_codes: ClassVar[dict[str, int]] = {"x": 0, "y": 1, "r": 2, "theta": 3}
    esr_errors = ESR_ERRORS_860
    errs_bits = ERRS_BITS_860
    snap_max = 3
    minimum_amplitude = 1e-9

    frequency = Parameter("FREQ?", "FREQ {value:.6g}", unit="Hz", get_parser=number, vals=Numbers(0.001, 500e3),
                          doc="internal reference frequency")
    amplitude = Parameter("SLVL?", "SLVL {value:.6g}", unit="V", get_parser=number, vals=Numbers(1e-9, 2.0),
                          doc="sine output amplitude (V rms; drives the chopper/modulator)")
    phase = Parameter("PHAS?", "PHAS {value:.4f}", unit="deg", get_parser=number, vals=Numbers(-360000.0, 360000.0),
                      doc="reference phase shift")
    sensitivity = Parameter("SCAL?", lambda inst, v: inst._set_index(_SENS, "SCAL", v), unit="V",
                            vals=_SENS, get_parser=_table_parser(_SENS),
                            doc="full-scale sensitivity; only the table's values (1 V .. 1 nV)")
    time_constant = Parameter("OFLT?", lambda inst, v: inst._set_index(_TC, "OFLT", v), unit="s",
                              vals=_TC, get_parser=_table_parser(_TC),
                              doc="output filter time constant; only the table's values (1 us .. 30 ks)")
    filter_slope = Parameter("OFSL?", "OFSL {value}", unit="dB/oct",
                             get_parser=_filter_slope,
                             set_map={6: "0", 12: "1", 18: "2", 24: "3"}, vals=Enum(*FILTER_SLOPES),
                             doc="output filter slope")

    def on_connect(self) -> None:
        # Start from clean status registers so the first check sees only our own errors.
        self.write("*CLS")

    def auto_gain(self) -> None:
        """``ASCL``: the instrument picks the sensitivity."""
        self.write("ASCL", check_errors=True)
        self.sensitivity.cache = None

    def auto_range(self) -> None:
        """``ARNG``: the instrument picks the input range."""
        self.write("ARNG", check_errors=True)
