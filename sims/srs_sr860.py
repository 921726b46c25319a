"""Simulated SRS SR860 lock-in on its raw TCP socket (the instrument's port 23, LF both ways).

The same physics and status model as the SR830 simulator (:mod:`hilt.sims.srs_sr830`) with the
SR860's dialect (see :mod:`hilt.drivers.srs_sr860`): ``SCAL`` (index 0 = 1 V .. 27 = 1 nV),
``OFLT`` 0 = 1 us .. 21 = 30 ks, 0-based ``OUTP?``/``SNAP?`` codes (``OUTP?`` also takes the
names X, Y, R, THeta), ``SNAP?`` with 2 or 3 values, ``ASCL`` auto scale, ``ARNG`` auto range,
several replies on one line separated by ``;``. Errors set ``*ESR`` bits (5 command error, 4
execution error). This simulator serves TCP only; the SR860's RS-232 port (also LF) speaks the
same bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hilt.sims.srs_sr830 import SrsLockInSim

SR860_SENSITIVITIES = tuple(
    float(f"{m * 10.0**e:.12g}") for e in range(0, -10, -1) for m in (1, 0.5, 0.2))[:28]
SR860_TIME_CONSTANTS = tuple(float(f"{m * 10.0**e:.12g}") for e in range(-6, 5) for m in (1, 3))

_NAMES = {"X": 0, "Y": 1, "R": 2, "THETA": 3, "TH": 3, "T": 3}


class SimSR860(SrsLockInSim):
    model = "srs_sr860"
    description = "SRS SR860 DSP lock-in (raw TCP socket, LF; optional THz-path coupling)"
    transport = "tcp"
    default_port = 23
    input_terminators = (b"\n",)
    reply_terminator = "\n"
    reply_separator = ";"
    idn = "Stanford_Research_Systems,SR860,003101,v1.47"
    sensitivities = SR860_SENSITIVITIES
    time_constants = SR860_TIME_CONSTANTS
    sens_mnemonic = "SCAL"
    auto_gain_mnemonic = "ASCL"
    auto_misc = ("ARNG",)
    output_codes: ClassVar[dict[int, str]] = {0: "x", 1: "y", 2: "r", 3: "theta"}
    snap_counts = (2, 3)
    frequency_range = (0.001, 500e3)
    amplitude_range = (1e-9, 2.0)
    amplitude_step = 0.0
    phase_range = (-360000.0, 360000.0)
    defaults: ClassVar[dict[str, Any]] = {
        "frequency": 1000.0, "amplitude": 0.5, "sens_index": 0, "tc_index": 10, "slope_index": 1,
    }

    def _code(self, text: str) -> int:
        word = text.strip().upper()
        if word in _NAMES:
            return _NAMES[word]
        if word.startswith("THE"):
            return 3
        return super()._code(text)
