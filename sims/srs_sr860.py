"""Simulated SRS SR860 lock-in on its raw TCP socket (the instrument's port 23, LF both ways).

The same physics and status model as the SR830 simulator (:mod:`hilt.sims.srs_sr830`) with the
SR860's dialect (see :mod:`hilt.drivers.srs_sr860`): ``SCAL`` (index 0 = 1 V .. 27 = 1 nV),
``OFLT`` 0 = 1 us .. 21 = 30 ks, 0-based ``OUTP?``/``SNAP?`` codes (``OUTP?`` also takes the
names X, Y, R, THeta), ``SNAP?`` with 2 or 3 values, ``ASCL`` auto scale, ``ARNG`` auto range,
several replies on one line separated by ``;``. Errors set ``*ESR`` bits (5 command error, 4
execution error). Served on TCP (the instrument's raw socket) and, as the SR860's RS-232 port
(the same bytes, LF-terminated as selected on the front panel), on a pty or a ``socket://`` URL
(``serve(sim, pty=True)``, ``hilt sim serve srs_sr860 --pty`` or ``--serial``).

Data capture (SR860 manual, chapter 4 "Data capture commands"): ``CAPTURECFG`` X | XY | RT | XYRT
(0..3), ``CAPTURELEN`` in kbytes (1..4096; odd lengths are rounded up to whole 2 kB blocks),
``CAPTURERATEMAX?`` and ``CAPTURERATE n`` (the maximum over 2^n, n = 0..20), ``CAPTURESTART
acq,start`` (ONE | CONT; IMM | TRIG | SAMP), ``CAPTURESTOP``, ``CAPTURESTAT?`` (bit 0 recording,
1 triggered, 2 wrapped), ``CAPTUREBYTES?``, ``CAPTUREPROG?`` (kbytes in 2 kB blocks),
``CAPTUREVAL? n`` and ``CAPTUREGET? i,j`` (j kbytes from offset i kbytes as an IEEE 488.2 definite
block ``#nccc...`` of little-endian float32, wrapping past the end; the capture must be stopped,
else an execution error). ``TRIG`` is the software trigger. Samples are taken in SIMULATED time
at the capture rate through the same output filter as ``OUTP?``, in chunks (a quarter time
constant, at least 1 ms) within which the input is held.

Also (chapter 4): ``IRNG`` sets the input range that the input-overload bit compares with,
``ILVL?`` the signal strength (0..4) against it, ``ENBW?`` the filter's noise bandwidth, ``HARM``
(as on the SR830, up to 500 kHz), ``FREQDET?``, ``FREQINT``, ``FREQEXT?`` (the chopper's rate,
0 without one), ``OUTR?`` after ``COUT``, ``SNAPD?`` after ``CDSP``, ``AUXV``/``OAUX?``,
``TIME?``/``DATE?`` (the simulated clock from 2025-01-01), ``*TST?``, and kept settings that do
not act on the model (``TBMODE``, ``HARMDUAL``, ``BLADESLOTS``, ``BLADEPHASE``, ``REFM``, ``RSRC``,
``RTRG``, ``REFZ``, ``IVMD``, ``ISRC``, ``ICPL``, ``IGND``, ``ICUR``, ``SYNC``, ``SOFF``, ``CEXP``,
``COFA``, ``COFP``, ``CRAT``).

Unverified: the rule that sets ``CAPTURERATEMAX?`` from the time constant (here 1.25 MHz / 2^k,
the fastest such rate not above 8/tau), ``CAPTURERATE?`` answering the rate in Hz, the default
length (256 kB), the line feed sent after a binary block, and the ``CAPTUREBYTES?`` count of a
wrapped continuous capture (the buffer size).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hilt.sims.scpi import ieee_block
from hilt.sims.srs_sr830 import (
    ENBW_TIMES_TAU,
    CommandError,
    ExecutionError,
    SrsLockInSim,
    _float_arg,
    _int_arg,
)

SR860_SENSITIVITIES = tuple(
    float(f"{m * 10.0**e:.12g}") for e in range(0, -10, -1) for m in (1, 0.5, 0.2))[:28]
SR860_TIME_CONSTANTS = tuple(float(f"{m * 10.0**e:.12g}") for e in range(-6, 5) for m in (1, 3))

_NAMES = {"X": 0, "Y": 1, "R": 2, "THETA": 3, "TH": 3, "T": 3}

CAPTURE_CONFIGS = ("X", "XY", "RT", "XYRT")
CAPTURE_ACQ = ("ONE", "CONT")
CAPTURE_START = ("IMM", "TRIG", "SAMP")
CAPTURE_MAX_RATE = 1.25e6
CAPTURE_BLOCK = 2048


def _token(args: list[str], pos: int, names: tuple[str, ...]) -> int:
    """An argument given as its index or as a name (``CONT``, ``CONTinuous``, ``1``)."""
    try:
        word = args[pos].strip().upper()
    except IndexError:
        raise ExecutionError from None
    for i, name in enumerate(names):
        if word == str(i) or (word.startswith(name) and word.isalpha()):
            return i
    raise ExecutionError


class SimSR860(SrsLockInSim):
    model = "srs_sr860"
    description = "SRS SR860 DSP lock-in (raw TCP socket, LF; optional THz-path coupling)"
    transport = "tcp"
    default_port = 23
    also_serial = True  # the rear-panel RS-232 port speaks the same bytes (LF-terminated)
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
    aux_base = 0
    max_detection_hz = 500e3
    kept_settings: ClassVar[dict[str, tuple[int, int, int]]] = {
        "TBMODE": (0, 1, 0), "HARMDUAL": (1, 99, 1), "BLADESLOTS": (0, 1, 0), "REFM": (0, 1, 0),
        "RSRC": (0, 3, 0), "RTRG": (0, 2, 0), "REFZ": (0, 1, 0), "IVMD": (0, 1, 0), "ISRC": (0, 1, 0),
        "ICPL": (0, 1, 0), "IGND": (0, 1, 0), "ICUR": (0, 1, 0), "SYNC": (0, 1, 0),
    }
    #: IRNG index -> voltage input range, V.
    INPUT_RANGES: ClassVar[tuple[float, ...]] = (1.0, 0.3, 0.1, 0.03, 0.01)
    #: CDSP parameter codes the simulator can show on a data channel (manual's CDSP table; the
    #: rest read 0): 0 X, 1 Y, 2 R, 3 theta.
    PARAMETERS: ClassVar[dict[int, str]] = {0: "x", 1: "y", 2: "r", 3: "theta"}

    def reset(self) -> None:
        super().reset()
        self.irng = 0
        self.input_range_v = self.INPUT_RANGES[0]
        self.sine_offset = 0.0
        self.blade_phase = 0.0
        self.cout = [0, 0]  # output channel 0: X or R, channel 1: Y or theta
        self.cexp = [0, 0, 0]
        self.cofa = [0, 0, 0]
        self.cofp = [0.0, 0.0, 0.0]
        self.crat = [0, 0, 0]
        self.cdsp = [0, 1, 2, 3]  # data channels 1..4: X, Y, R, theta
        self.capture_cfg = 0
        self.capture_kb = 256
        self.capture_rate_n = 0
        self._capture_reset()

    def _capture_reset(self) -> None:
        self.capture_data = np.zeros(self.capture_kb * 256, dtype="<f4")
        self.capture_state = "idle"  # idle | armed | running | stopped
        self.capture_acq = self.capture_start = 0
        self._written = 0  # floats written since the start (may exceed the buffer: it wraps)
        self._triggered = self._wrapped = False
        self._c_t0 = 0.0
        self._c_k = 0

    # -- capture in simulated time ------------------------------------------------------------
    def capture_rate_max(self) -> float:
        k = max(0, math.ceil(math.log2(CAPTURE_MAX_RATE * self.tau / 8.0)))
        return CAPTURE_MAX_RATE / 2.0**k

    def capture_rate(self) -> float:
        return self.capture_rate_max() / 2.0**self.capture_rate_n

    def _values_per_sample(self) -> int:
        return (1, 2, 2, 4)[self.capture_cfg]

    def _scanning(self) -> bool:
        return self.capture_state in ("running", "armed")

    def _store_due(self, now: float) -> None:
        if self.capture_state != "running" or self.capture_start == 2:
            return
        rate = self.capture_rate()
        due = math.floor((now - self._c_t0) * rate + 1e-9) + 1 - self._c_k
        per = self._values_per_sample()
        capacity = self.capture_data.size // per
        if due <= 0:
            return
        if self.capture_acq == 0:
            due = min(due, capacity - self._written // per)
        elif due > capacity:  # continuous: only the newest buffer-full survives
            skip = due - capacity
            self._c_k += skip
            self._written += skip * per
            due = capacity
        times = self._c_t0 + (self._c_k + np.arange(due)) / rate
        # The input is re-read once per chunk: a quarter time constant, but at least 1 ms (the
        # world's inputs change on the scale of a stage move, not of a microsecond filter).
        chunk = max(1, int(max(0.25 * self.tau, 1e-3) * rate))
        for i in range(0, due, chunk):
            self._capture(times[i:i + chunk])
        self._c_k += due
        if self.capture_acq == 0 and self._written >= capacity * per:
            self.capture_state = "stopped"

    def _capture(self, times: np.ndarray) -> None:
        self._write_samples(*self._readings_at(times))

    def _write_samples(self, xs: np.ndarray, ys: np.ndarray) -> None:
        r, theta = np.hypot(xs, ys), np.degrees(np.arctan2(ys, xs))
        columns = {0: (xs,), 1: (xs, ys), 2: (r, theta), 3: (xs, ys, r, theta)}[self.capture_cfg]
        flat = np.stack(columns, axis=1).astype("<f4").ravel()
        size = self.capture_data.size
        for value_start in range(0, flat.size, size):
            part = flat[value_start:value_start + size]
            pos = self._written % size
            first = min(part.size, size - pos)
            self.capture_data[pos:pos + first] = part[:first]
            self.capture_data[:part.size - first] = part[first:]
            self._written += part.size
        if self._written > size or (self._written == size and self.capture_acq == 0):
            self._wrapped = True

    # -- capture commands ---------------------------------------------------------------------
    def _handlers(self) -> dict[str, Callable[[bool, list[str]], str | bytes | None]]:
        return {**super()._handlers(), "CAPTURECFG": self._capturecfg, "CAPTURELEN": self._capturelen,
                "CAPTURERATEMAX": self._capturerate_max, "CAPTURERATE": self._capturerate,
                "CAPTURESTART": self._capture_start_cmd, "CAPTURESTOP": self._capture_stop,
                "CAPTURESTAT": self._capturestat, "CAPTUREBYTES": self._capturebytes,
                "CAPTUREPROG": self._captureprog, "CAPTUREVAL": self._captureval,
                "CAPTUREGET": self._captureget, "TRIG": self._trig,
                "IRNG": self._irng, "ILVL": self._ilvl, "ENBW": self._enbw, "FREQDET": self._freqdet,
                "FREQINT": self._freq, "FREQEXT": self._freqext, "TBSTAT": self._tbstat,
                "SOFF": self._float_setting("sine_offset", -5.0, 5.0),
                "BLADEPHASE": self._float_setting("blade_phase", -360.0, 360.0),
                "COUT": self._indexed("cout", 1, 0, 1), "CEXP": self._indexed("cexp", 2, 0, 2),
                "COFA": self._indexed("cofa", 2, 0, 1), "CRAT": self._indexed("crat", 2, 0, 1),
                "COFP": self._cofp, "CDSP": self._indexed("cdsp", 3, 0, 3), "OUTR": self._outr,
                "SNAPD": self._snapd, "*TST": self._tst, "TIME": self._time, "DATE": self._date}

    # -- settings the model keeps -------------------------------------------------------------
    def _float_setting(self, attr: str, lo: float, hi: float) -> Callable[[bool, list[str]], str | None]:
        def handler(query: bool, args: list[str]) -> str | None:
            if query:
                return f"{getattr(self, attr):.6g}"
            setattr(self, attr, _float_arg(args, lo, hi))
            return None
        return handler

    def _indexed(self, attr: str, top: int, lo: int, hi: int) -> Callable[[bool, list[str]], str | None]:
        """``X i, j`` / ``X? i``: one entry of a small table (channel i = 0..top)."""
        def handler(query: bool, args: list[str]) -> str | None:
            i = _int_arg(args, 0, top)
            table = getattr(self, attr)
            if query:
                return str(table[i])
            table[i] = _int_arg(args, lo, hi, 1)
            return None
        return handler

    def _cofp(self, query: bool, args: list[str]) -> str | None:
        i = _int_arg(args, 0, 2)
        if query:
            return f"{self.cofp[i]:.4g}"
        self.cofp[i] = _float_arg(args, -999.99, 999.99, 1)
        return None

    # -- input range and signal strength ------------------------------------------------------
    @property
    def input_range(self) -> float:
        return self.INPUT_RANGES[self.irng]

    def _irng(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.irng)
        self.irng = _int_arg(args, 0, len(self.INPUT_RANGES) - 1)
        self.input_range_v = self.input_range
        return None

    def _ilvl(self, query: bool, args: list[str]) -> str:
        """Signal strength 0..4 against the input range (4 = overload)."""
        if not query:
            raise CommandError
        self._event()
        level = abs(self._u) * math.sqrt(2) / self.input_range  # peak over range
        return str(4 if level > 1.0 else 3 if level > 0.5 else 2 if level > 0.1 else 1 if level > 0.01 else 0)

    def _enbw(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        return f"{ENBW_TIMES_TAU[self.slope_index] / self.tau:.6g}"

    def _freqdet(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        return f"{self.frequency * self.harmonic:.6g}"

    def _freqext(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        system = self._system()
        chop = system.chop_frequency() if system is not None and hasattr(system, "chop_frequency") else 0.0
        return f"{chop:.6g}"

    def _tbstat(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        return "0"  # running on the internal timebase

    # -- outputs ------------------------------------------------------------------------------
    def _outr(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        channel = _int_arg(args, 0, 1)
        q = self._quantities()
        name = (("x", "r"), ("y", "theta"))[channel][self.cout[channel]]
        return f"{q[name]:.6g}"

    def _snapd(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        q = self._quantities()
        return ",".join(f"{q[self.PARAMETERS[c]] if c in self.PARAMETERS else 0.0:.11g}" for c in self.cdsp)

    def _tst(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        return "0"

    def _time(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        i = _int_arg(args, 0, 2)  # 0 seconds, 1 minutes, 2 hours of the simulated clock
        t = int(self.world.clock.now())
        return str((t % 60, t // 60 % 60, t // 3600 % 24)[i])

    def _date(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        i = _int_arg(args, 0, 2)  # 0 day, 1 month, 2 year: the simulated world starts 2025-01-01
        return str((1 + int(self.world.clock.now()) // 86400 % 28, 1, 25)[i])

    def _idle_setting(self) -> None:
        """Capture settings change only while no capture runs (else an execution error)."""
        self._event()
        if self._scanning():
            raise ExecutionError

    def _capturecfg(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.capture_cfg)
        word = args[0].strip().upper() if args else ""
        if word.isdigit():
            cfg = _int_arg(args, 0, 3)
        elif word in CAPTURE_CONFIGS:
            cfg = CAPTURE_CONFIGS.index(word)
        else:
            raise ExecutionError
        self._idle_setting()
        self.capture_cfg = cfg
        self._capture_reset()
        return None

    def _capturelen(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.capture_kb)
        kb = _int_arg(args, 1, 4096)
        self._idle_setting()
        self.capture_kb = kb + (kb % 2)
        self._capture_reset()
        return None

    def _capturerate_max(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        return f"{self.capture_rate_max():.10g}"

    def _capturerate(self, query: bool, args: list[str]) -> str | None:
        if query:
            return f"{self.capture_rate():.10g}"
        n = _int_arg(args, 0, 20)
        self._idle_setting()
        self.capture_rate_n = n
        return None

    def _capture_start_cmd(self, query: bool, args: list[str]) -> str | None:
        if query:
            return f"{self.capture_acq},{self.capture_start}"
        acq = _token(args, 0, CAPTURE_ACQ)
        start = _token(args, 1, CAPTURE_START) if len(args) > 1 else 0
        self._event()
        cfg, kb, rate_n = self.capture_cfg, self.capture_kb, self.capture_rate_n
        self._capture_reset()
        self.capture_cfg, self.capture_kb, self.capture_rate_n = cfg, kb, rate_n
        self.capture_acq, self.capture_start = acq, start
        if start == 1:
            self.capture_state = "armed"
        else:
            self._begin(self.world.clock.now())
        return None

    def _begin(self, t0: float) -> None:
        self.capture_state, self._c_t0, self._c_k, self._triggered = "running", t0, 0, True

    def _capture_stop(self, query: bool, args: list[str]) -> None:
        if query:
            raise CommandError
        self._event()
        if self._scanning():
            self.capture_state = "stopped"

    def _trig(self, query: bool, args: list[str]) -> None:
        if query:
            raise CommandError
        self._event()
        if self.capture_state == "armed":
            self._begin(self.world.clock.now())
        elif self.capture_state == "running" and self.capture_start == 2:
            per = self._values_per_sample()
            if self.capture_acq == 1 or self._written < self.capture_data.size // per * per:
                x, y = self._noisy(self._stages[-1])
                self._write_samples(np.array([x]), np.array([y]))
            if self.capture_acq == 0 and self._written >= self.capture_data.size // per * per:
                self.capture_state = "stopped"

    def _capturestat(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        self._event()
        return str((1 if self.capture_state == "running" else 0) | (2 if self._triggered else 0)
                   | (4 if self._wrapped else 0))

    def _capturebytes(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        self._event()
        return str(min(self._written, self.capture_data.size) * 4)

    def _captureprog(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        self._event()
        if self._scanning():
            raise ExecutionError
        written = min(self._written, self.capture_data.size) * 4
        return str(math.ceil(written / CAPTURE_BLOCK) * CAPTURE_BLOCK // 1024)

    def _captureval(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        self._event()
        per = self._values_per_sample()
        n = _int_arg(args, 0, self.capture_data.size // per - 1)
        return ",".join(f"{float(v):.11g}" for v in self.capture_data[n * per:(n + 1) * per])

    def _captureget(self, query: bool, args: list[str]) -> bytes:
        if not query:
            raise CommandError
        self._event()
        if len(args) != 2 or self._scanning():
            raise ExecutionError
        offset, length = _int_arg(args, 0, self.capture_kb - 1), _int_arg(args, 1, 64, 1)
        raw = self.capture_data.tobytes()
        start = offset * 1024
        data = bytes((raw + raw)[start:start + length * 1024]) if length * 1024 <= len(raw) else \
            bytes(np.resize(np.frombuffer(raw[start:] + raw[:start], dtype=np.uint8), length * 1024))
        return ieee_block(data) + self.reply_terminator.encode()

    def _code(self, text: str) -> int:
        word = text.strip().upper()
        if word in _NAMES:
            return _NAMES[word]
        if word.startswith("THE"):
            return 3
        return super()._code(text)
