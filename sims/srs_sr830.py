"""Simulated SRS SR830 DSP lock-in on RS-232 (``socket://`` URL or a pty), coupled to a THz path.

Bytes as in the manual (see :mod:`hilt.drivers.srs_sr830`): input ends with LF or CR, replies with
CR on RS-232; several commands per line with ``;`` (each reply with its own terminator); after
``OUTX 1`` replies go to the (absent) GPIB port, so the RS-232 side hears nothing, as on the
instrument. No error queue: an unknown command sets the CMD bit (5) of ``*ESR``, a value out of
range or a missing argument the EXE bit (4); an injected fault (``sim.faults.error``) sets EXE and
skips the command.

Physics (option ``system="thz"``: the name of a :class:`~hilt.sims.thz_path.ThzPath` attached to
the world): X + iY follow the detector's fundamental at the reference phase through the output
filter, a cascade of ``OFSL + 1`` identical first-order low-passes with the OFLT time constant,
solved in closed form in *simulated* time between events (a setting change, a change of the
path's inputs seen through ``world.watch``, a read). After a step the reading settles over about
five time constants (first order; longer for steeper slopes). Fresh Gaussian noise per read:
(detector + input noise density) x sqrt(ENBW of the filter). Output overload (LIAS bit 2) when
|X| or |Y| exceeds the sensitivity; the reading then saturates at full scale. Without a system
the input is quiet (input noise only).

World keys written: ``{name}.frequency`` (reference, Hz; drives a chopper that follows the lock-in)
and ``{name}.amplitude`` (sine out, V).
"""

from __future__ import annotations

import cmath
import copy
import math
import re
import struct
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from hilt.sims.base import Session, SimulatedInstrument

_COMMAND = re.compile(r"^\s*(\*?[A-Za-z]+)\s*(\?)?\s*(.*?)\s*$")

SR830_SENSITIVITIES = tuple(float(f"{m * 10.0**e:.12g}") for e in range(-9, 0) for m in (2, 5, 10))
SR830_TIME_CONSTANTS = tuple(float(f"{m * 10.0**e:.12g}") for e in range(-5, 5) for m in (1, 3))
#: Equivalent noise bandwidth x tau of 1..4 cascaded RC sections (6..24 dB/oct).
ENBW_TIMES_TAU = (1 / 4, 1 / 8, 3 / 32, 5 / 64)

ESR_INP, ESR_QRY, ESR_EXE, ESR_CMD, ESR_PON = 0, 2, 4, 5, 7
LIAS_INPUT, LIAS_FILTER, LIAS_OUTPUT, LIAS_UNLOCK, LIAS_TRIGGER = 0, 1, 2, 3, 6
STB_SCN, STB_IFC, STB_ERR, STB_LIA, STB_MAV, STB_ESB, STB_SRQ = 0, 1, 2, 3, 4, 5, 6


class CommandError(Exception):
    """An illegal command: the CMD bit."""


class ExecutionError(Exception):
    """A legal command that cannot execute (out of range, missing argument): the EXE bit."""


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _int_arg(args: list[str], lo: int, hi: int, pos: int = 0) -> int:
    try:
        v = int(float(args[pos]))
    except (IndexError, ValueError):
        raise ExecutionError from None
    if not lo <= v <= hi:
        raise ExecutionError
    return v


def _float_arg(args: list[str], lo: float, hi: float, pos: int = 0) -> float:
    try:
        v = float(args[pos])
    except (IndexError, ValueError):
        raise ExecutionError from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ExecutionError
    return v


def _wrap180(deg: float) -> float:
    w = math.fmod(deg + 180.0, 360.0)
    return (w + 360.0 if w <= 0 else w) - 180.0


class SrsLockInSim(SimulatedInstrument):
    """Shared model of the SRS DSP lock-ins; subclasses give the dialect (codes, tables, ranges)."""

    idn: ClassVar[str] = ""
    sensitivities: ClassVar[tuple[float, ...]] = SR830_SENSITIVITIES
    time_constants: ClassVar[tuple[float, ...]] = SR830_TIME_CONSTANTS
    sens_mnemonic: ClassVar[str] = "SENS"
    auto_gain_mnemonic: ClassVar[str] = "AGAN"
    auto_misc: ClassVar[tuple[str, ...]] = ("ARSV",)
    #: OUTP?/SNAP? code -> quantity name.
    output_codes: ClassVar[dict[int, str]] = {}
    snap_counts: ClassVar[tuple[int, int]] = (2, 6)
    frequency_range: ClassVar[tuple[float, float]] = (0.001, 102e3)
    amplitude_range: ClassVar[tuple[float, float]] = (0.004, 5.0)
    amplitude_step: ClassVar[float] = 0.002
    phase_range: ClassVar[tuple[float, float]] = (-360.0, 729.99)
    defaults: ClassVar[dict[str, Any]] = {}
    input_range_v: ClassVar[float] = 1.0
    reply_separator: ClassVar[str] = "\r"
    #: Settings the instrument keeps that the model answers but does not act on (input grounding,
    #: coupling, notch filters, reserve, key click...): mnemonic -> (lowest, highest, after *RST).
    kept_settings: ClassVar[dict[str, tuple[int, int, int]]] = {}
    #: Highest detection frequency (HARM x FREQ), Hz.
    max_detection_hz: ClassVar[float] = 102e3
    #: Aux outputs (AUXV) and their range, V.
    aux_outputs: ClassVar[int] = 4
    #: Number of the first aux channel (1 on the SR830, 0 on the SR860).
    aux_base: ClassVar[int] = 1
    aux_range: ClassVar[tuple[float, float]] = (-10.5, 10.5)

    def __init__(self, world: Any = None, *, system: str | None = None, input_noise: float = 6e-9,
                 **kwargs: Any) -> None:
        super().__init__(world, **kwargs)
        self.system_name = system
        self.input_noise = float(input_noise)  # V/rtHz of the lock-in's own input
        self._watching = False
        self._settled = False
        self.esr = self.errs = self.lias = 0
        # Enable registers (*ESE, *SRE, ERRE, LIAE) and *PSC: cleared at power-on.
        self.ese = self.sre = self.erre = self.liae = 0
        self.psc = 1
        self.reset()
        self.esr |= 1 << ESR_PON  # the instrument has just been powered on

    # -- state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        d = self.defaults
        self.frequency = float(d["frequency"])
        self.amplitude = float(d["amplitude"])
        self.phase = 0.0
        self.sens_index = int(d["sens_index"])
        self.tc_index = int(d["tc_index"])
        self.slope_index = int(d["slope_index"])
        self.outx = 0
        self.harmonic = 1
        self.kept = {name: default for name, (_, _, default) in self.kept_settings.items()}
        self.aux_out = [0.0] * self.aux_outputs
        self._stages = [0j] * (self.slope_index + 1)
        self._u = 0j
        self._t_last = self.world.clock.now()
        self._settled = False
        self._publish()

    def _publish(self) -> None:
        self.world.update({f"{self.name}.frequency": self.frequency,
                           f"{self.name}.amplitude": self.amplitude,
                           f"{self.name}.aux_out": tuple(getattr(self, "aux_out", ()))})

    @property
    def sensitivity(self) -> float:
        return self.sensitivities[self.sens_index]

    @property
    def tau(self) -> float:
        return self.time_constants[self.tc_index]

    def _system(self) -> Any:
        if not self.system_name:
            return None
        system = self.world.system(self.system_name)
        if system is not None and not self._watching:
            self._watching = True
            system.watch(self._on_input_change)
        return system

    # -- the output filter, in simulated time ----------------------------------------------------------
    def _input(self, t: float) -> complex:
        """Demodulated input phasor (V rms) at the current reference phase."""
        system = self._system()
        if system is None:
            return 0j
        raw = system.lockin_phasor(self.frequency, t)
        if self.harmonic > 1:
            # Detecting at n x the chopping frequency: a 50 % square wave's n-th harmonic is
            # 1/n of its fundamental for odd n and absent for even n.
            raw *= 1.0 / self.harmonic if self.harmonic % 2 else 0.0
        beat = system.beat_hz(self.frequency)
        if beat:
            # A free-running chopper off the reference beats; the filter passes |H(beat)| of it.
            raw *= 1.0 / complex(1.0, 2 * math.pi * beat * self.tau) ** (self.slope_index + 1)
        return raw * cmath.exp(-1j * math.radians(self.phase))

    def _advance(self, now: float) -> None:
        """Run the filter cascade from the last event to ``now``.

        The input is what the world gives at each moment: if it differs at ``now`` from the last
        event (the stage carried the detector, the source drifted), the last ten time constants
        of the interval are integrated in short holds sampled at their midpoints, so a reading
        taken after a move has seen the move, not a jump at the read.
        """
        if not self._settled:
            self._settled = True
            self._u = self._input(now)
            self._stages = [self._u] * (self.slope_index + 1)
            self._t_last = now
            return
        dt = now - self._t_last
        if dt > 0:
            end = self._input(now)
            system = self._system()
            beating = system is not None and system.beat_hz(self.frequency) != 0.0
            # A beating chopper is already filtered analytically in _input: hold, don't resample.
            if end == self._u or beating:
                self._hold(dt, self._u)
            else:
                tail = min(dt, 10.0 * self.tau)
                self._hold(dt - tail, self._u)
                steps = max(1, min(32, math.ceil(tail / (0.25 * self.tau))))
                h = tail / steps
                t0 = now - tail
                for i in range(steps):
                    self._hold(h, self._input(t0 + (i + 0.5) * h))
                self._u = end
        self._t_last = max(self._t_last, now)

    def _hold(self, dt: float, u: complex) -> None:
        """Advance the cascade by ``dt`` with the input held at ``u`` (exact for RC stages)."""
        if dt <= 0:
            return
        x = dt / self.tau
        decay = math.exp(-x)
        dev = [s - u for s in self._stages]
        # Stage k of identical RC sections after a hold: e_k(x) = e^-x sum_j e_j x^(k-j)/(k-j)!
        new = []
        for k in range(len(dev)):
            acc = 0j
            for j in range(k + 1):
                acc += dev[j] * x ** (k - j) / math.factorial(k - j)
            new.append(u + decay * acc)
        self._stages = new

    def _event(self, change: Callable[[], None] | None = None) -> None:
        """Advance to now under the old conditions, apply ``change``, then take the new input."""
        now = self.world.clock.now()
        # Samples the data buffer took since the last event see the conditions before this one.
        self._store_due(now)
        self._advance(now)
        if change is not None:
            change()
        self._u = self._input(now)

    def _on_input_change(self, key: str, value: Any) -> None:
        with self.lock:
            if self._settled:
                self._event()

    def _store_due(self, now: float) -> None:
        """Take the data-buffer samples due up to ``now`` (the lock-ins with a buffer override)."""

    def noise_density(self) -> float:
        """Input-referred noise density (V/rtHz): the lock-in's own and the detector's."""
        system = self._system()
        return math.hypot(self.input_noise, system.noise_density() if system is not None else 0.0)

    def _sample(self) -> tuple[float, float]:
        """One reading of (X, Y) now: filtered signal + fresh noise, saturating at full scale."""
        self._event()
        return self._noisy(self._stages[-1])

    def _readings_at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y) at ``times`` (ascending, not before the last event) as a buffer stores them: the
        filter advanced to the first time, the input held over the rest (exact for RC stages),
        fresh noise per sample, saturation at full scale setting the output overload bit."""
        self._advance(float(times[0]))
        x = (times - times[0]) / self.tau
        dev = [st - self._u for st in self._stages]
        order = len(dev) - 1
        acc = np.zeros(times.size, dtype=complex)
        for j, d in enumerate(dev):
            acc += d * x ** (order - j) / math.factorial(order - j)
        y = self._u + np.exp(-x) * acc
        sigma = self.noise_density() * math.sqrt(ENBW_TIMES_TAU[self.slope_index] / self.tau)
        noise = self.rng.standard_normal((times.size, 2)) * sigma
        xs, ys = y.real + noise[:, 0], y.imag + noise[:, 1]
        s = self.sensitivity
        if np.any(np.abs(xs) > s) or np.any(np.abs(ys) > s):
            self.lias |= 1 << LIAS_OUTPUT
        return np.clip(xs, -s, s), np.clip(ys, -s, s)

    def _noisy(self, y: complex) -> tuple[float, float]:
        """(X, Y) of the filter output ``y`` with fresh noise; overloads set their LIAS bits."""
        sigma = self.noise_density() * math.sqrt(ENBW_TIMES_TAU[self.slope_index] / self.tau)
        nx, ny = self.rng.standard_normal(2)
        x, yy = y.real + sigma * nx, y.imag + sigma * ny
        if abs(self._u) > self.input_range_v:
            self.lias |= 1 << LIAS_INPUT
        s = self.sensitivity
        if abs(x) > s or abs(yy) > s:
            self.lias |= 1 << LIAS_OUTPUT
            x, yy = max(-s, min(s, x)), max(-s, min(s, yy))
        return x, yy

    def _quantities(self) -> dict[str, float]:
        x, y = self._sample()
        r = math.hypot(x, y)
        if self.lias & (1 << LIAS_OUTPUT):
            r = min(r, self.sensitivity)
        return {"x": x, "y": y, "r": r, "theta": math.degrees(math.atan2(y, x)),
                "aux": 0.0, "frequency": self.frequency}

    # -- protocol ----------------------------------------------------------------------------------------
    def handle(self, line: str, session: Session) -> str | bytes | None:
        replies: list[str | bytes] = []
        for part in line.split(";"):
            if not part.strip():
                continue
            reply = self.execute(part)
            if reply is not None:
                replies.append(reply)
        if not replies or not self._replies_here():
            return None
        if not any(isinstance(r, bytes) for r in replies):
            return self.reply_separator.join(replies)  # type: ignore[arg-type]
        # A binary transfer among the replies: text replies keep their own terminators.
        out = bytearray()
        for r in replies:
            out += r if isinstance(r, bytes) else (r + self.reply_terminator).encode(self.encoding)
        return bytes(out)

    def _replies_here(self) -> bool:
        return True

    def execute(self, text: str) -> str | bytes | None:
        m = _COMMAND.match(text)
        try:
            if m is None:
                raise CommandError
            mnemonic, query, rest = m.group(1).upper(), bool(m.group(2)), m.group(3)
            args = [a.strip() for a in rest.split(",")] if rest else []
            handler = self._handlers().get(mnemonic)
            if handler is None:
                self.unknown_command(mnemonic + ("?" if query else ""))
                raise CommandError
            return handler(query, args)
        except CommandError:
            self.esr |= 1 << ESR_CMD
        except ExecutionError:
            self.esr |= 1 << ESR_EXE
        return None

    def inject_error(self, line: str, session: Session) -> str | None:
        self.esr |= 1 << ESR_EXE
        return None

    def _handlers(self) -> dict[str, Callable[[bool, list[str]], str | bytes | None]]:
        return {
            "*IDN": self._idn, "*RST": self._rst, "*CLS": self._cls, "*ESR": self._esr,
            "*STB": self._stb, "*ESE": self._enable("ese"), "*SRE": self._enable("sre"),
            "ERRE": self._enable("erre"), "LIAE": self._enable("liae"), "*PSC": self._psc,
            "*OPC": self._opc, "ERRS": self._errs, "LIAS": self._lias,
            "FREQ": self._freq, "SLVL": self._slvl, "PHAS": self._phas,
            self.sens_mnemonic: self._sens, "OFLT": self._oflt, "OFSL": self._ofsl,
            "OUTP": self._outp, "SNAP": self._snap, "APHS": self._aphs,
            self.auto_gain_mnemonic: self._agan, **{m: self._ignore for m in self.auto_misc},
            "HARM": self._harm, "AUXV": self._auxv, "OAUX": self._oaux,
            **{name: self._kept(name) for name in self.kept_settings},
        }

    def _kept(self, name: str) -> Callable[[bool, list[str]], str | None]:
        lo, hi, _ = self.kept_settings[name]

        def handler(query: bool, args: list[str]) -> str | None:
            if query:
                return str(self.kept[name])
            self.kept[name] = _int_arg(args, lo, hi)
            return None
        return handler

    def _harm(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.harmonic)
        n = _int_arg(args, 1, 99999)
        if n * self.frequency > self.max_detection_hz:
            raise ExecutionError
        self._event(lambda: setattr(self, "harmonic", n))
        return None

    def _aux_index(self, args: list[str]) -> int:
        """Aux channel argument: 1..4 on the SR830, 0..3 on the SR860."""
        first = self.aux_base
        return _int_arg(args, first, first + self.aux_outputs - 1) - first

    def _auxv(self, query: bool, args: list[str]) -> str | None:
        i = self._aux_index(args)
        if query:
            return _fmt(self.aux_out[i])
        self.aux_out[i] = round(_float_arg(args, *self.aux_range, pos=1), 3)
        self._publish()
        return None

    def _oaux(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        self._aux_index(args)
        # The aux inputs are wired to nothing in the simulated world: they read 0 V.
        return _fmt(0.0)

    @staticmethod
    def _register(value: int, query: bool, args: list[str]) -> tuple[str, bool]:
        """Reply to a status query, optionally one bit; second item: whether to clear."""
        if not query:
            raise CommandError
        if args:
            bit = _int_arg(args, 0, 15)
            return str((value >> bit) & 1), False
        return str(value), True

    def _idn(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        return self.idn

    def _rst(self, query: bool, args: list[str]) -> None:
        self.reset()

    def _cls(self, query: bool, args: list[str]) -> None:
        self.esr = self.errs = self.lias = 0

    def _ignore(self, query: bool, args: list[str]) -> str | None:
        return "0" if query else None

    def _opc(self, query: bool, args: list[str]) -> str | None:
        return "1" if query else None

    def _esr(self, query: bool, args: list[str]) -> str:
        reply, clear = self._register(self.esr, query, args)
        if clear:
            self.esr = 0
        return reply

    def _errs(self, query: bool, args: list[str]) -> str:
        reply, clear = self._register(self.errs, query, args)
        if clear:
            self.errs = 0
        return reply

    def _lias(self, query: bool, args: list[str]) -> str:
        self._sample()  # an overload now shows in the register now
        reply, clear = self._register(self.lias, query, args)
        if clear:
            self.lias = 0
        return reply

    def _scanning(self) -> bool:
        """Whether data storage is in progress (the SCN bit of the serial poll status is its NOT)."""
        return False

    def status_byte(self) -> int:
        """The serial poll status byte: each summary bit is its register ANDed with its enable."""
        value = (0 if self._scanning() else 1 << STB_SCN) | 1 << STB_IFC
        value |= (1 << STB_ERR if self.errs & self.erre else 0) | (1 << STB_LIA if self.lias & self.liae else 0)
        value |= 1 << STB_ESB if self.esr & self.ese else 0
        if value & self.sre & ~(1 << STB_SRQ):
            value |= 1 << STB_SRQ
        return value

    def _stb(self, query: bool, args: list[str]) -> str:
        self._event()  # a scan that ended since the last command shows now
        return self._register(self.status_byte(), query, args)[0]

    def _enable(self, attr: str) -> Callable[[bool, list[str]], str | None]:
        """An enable register: ``X i`` sets it, ``X i,j`` sets bit i to j, ``X? [i]`` reads it."""

        def handler(query: bool, args: list[str]) -> str | None:
            value = getattr(self, attr)
            if query:
                return self._register(value, True, args)[0]
            if len(args) == 2:
                bit, on = _int_arg(args, 0, 7), _int_arg(args, 0, 1, 1)
                setattr(self, attr, (value & ~(1 << bit)) | (on << bit))
            else:
                setattr(self, attr, _int_arg(args, 0, 255))
            return None
        return handler

    def _psc(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.psc)
        self.psc = _int_arg(args, 0, 1)
        return None

    def _freq(self, query: bool, args: list[str]) -> str | None:
        if query:
            return _fmt(self.frequency)
        f = _float_arg(args, *self.frequency_range)
        if f * self.harmonic > self.max_detection_hz:
            raise ExecutionError

        def change() -> None:
            self.frequency = f
            self._publish()
        self._event(change)
        return None

    def _slvl(self, query: bool, args: list[str]) -> str | None:
        if query:
            return _fmt(self.amplitude)
        v = _float_arg(args, *self.amplitude_range)
        if self.amplitude_step:
            v = round(round(v / self.amplitude_step) * self.amplitude_step, 6)
        self.amplitude = v
        self._publish()
        return None

    def _phas(self, query: bool, args: list[str]) -> str | None:
        if query:
            return _fmt(self.phase)
        p = _wrap180(_float_arg(args, *self.phase_range))
        self._event(lambda: setattr(self, "phase", p))
        return None

    def _sens(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.sens_index)
        self.sens_index = _int_arg(args, 0, len(self.sensitivities) - 1)
        return None

    def _oflt(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.tc_index)
        i = _int_arg(args, 0, len(self.time_constants) - 1)
        self._event(lambda: setattr(self, "tc_index", i))
        return None

    def _ofsl(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.slope_index)
        i = _int_arg(args, 0, 3)

        def change() -> None:
            out = self._stages[-1]
            self.slope_index = i
            self._stages = [out] * (i + 1)
        self._event(change)
        return None

    def _outp(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        code = self._code(args[0] if args else "")
        return _fmt(self._quantities()[self.output_codes[code]])

    def _code(self, text: str) -> int:
        try:
            code = int(text)
        except ValueError:
            raise ExecutionError from None
        if code not in self.output_codes:
            raise ExecutionError
        return code

    def _snap(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        lo, hi = self.snap_counts
        if not lo <= len(args) <= hi:
            raise ExecutionError
        codes = [self._code(a) for a in args]
        values = self._quantities()
        return ",".join(_fmt(values[self.output_codes[c]]) for c in codes)

    def _aphs(self, query: bool, args: list[str]) -> None:
        if query:
            raise CommandError
        raw = self._u * cmath.exp(1j * math.radians(self.phase))
        if abs(raw) > 0:
            p = _wrap180(math.degrees(cmath.phase(raw)))
            self._event(lambda: setattr(self, "phase", p))

    def _agan(self, query: bool, args: list[str]) -> None:
        if query:
            raise CommandError
        self._event()
        level = max(abs(self._u.real), abs(self._u.imag)) * 1.25
        order = sorted(range(len(self.sensitivities)), key=lambda i: self.sensitivities[i])
        fits = [i for i in order if self.sensitivities[i] >= level]
        self.sens_index = fits[0] if fits else order[-1]

    def state(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "amplitude": self.amplitude, "phase": self.phase,
                "sensitivity": self.sensitivity, "time_constant": self.tau,
                "slope_db": 6 * (self.slope_index + 1), "system": self.system_name}


#: Points per display channel in the SR830's data buffer.
SR830_BUFFER_POINTS = 16383
#: SRAT index of triggered sampling (0..13 are 62.5 mHz x 2^i).
SRAT_TRIGGER = 14


def sr830_sample_rate(index: int) -> float:
    """SRAT 0..13: 62.5 mHz .. 512 Hz in powers of two."""
    return 2.0 ** (index - 4)


def trcl_bytes(value: float) -> bytes:
    """One point in the SR830's non-normalised format: int16 mantissa m (LSB first), exponent
    byte e, a zero byte; value = m * 2**(e - 124)."""
    if value == 0 or not math.isfinite(value):
        return struct.pack("<hBB", 0, 124, 0)
    e = 110 + math.floor(math.log2(abs(value)))  # puts |m| in [2^14, 2^15)
    e = max(0, min(248, e))
    m = round(value * 2.0 ** (124 - e))
    if abs(m) > 32767:
        e = min(248, e + 1)
        m = round(value * 2.0 ** (124 - e))
    return struct.pack("<hBB", max(-32768, min(32767, m)), e, 0)


def trca_number(value: float) -> str:
    """A TRCA? point as the manual prints one: ``-1.234567e-009`` (three exponent digits)."""
    mantissa, exponent = f"{value:+.6e}".split("e")
    return f"{mantissa}e{int(exponent):+04d}"


class SimSR830(SrsLockInSim):
    """SR830 with its data storage (manual chapter 5, "Data storage commands" and "Data transfer
    commands"; :data:`SR830_BUFFER_POINTS` points per channel).

    ``SRAT i`` samples both displays at 62.5 mHz x 2^i (i = 0..13) in SIMULATED time, or on each
    ``TRIG`` (i = 14); ``SEND 0`` stops at a full buffer (1 shot), ``SEND 1`` loops, keeping the
    newest points; ``TSTR 1`` makes a trigger start the scan; ``STRT``/``PAUS``/``REST``/``STRD``
    (start after 0.5 s). The displays hold what ``DDEF`` puts there (CH1 X, R, X noise, Aux 1,
    Aux 2; CH2 Y, theta, Y noise, Aux 3, Aux 4; the ratio argument is kept, not applied). Read-out:
    ``SPTS?``, ``TRCA?`` (ASCII, each point followed by a comma), ``TRCB?`` (IEEE float32, LSB
    first, no terminator) and ``TRCL?`` (the instrument's 4-byte non-normalised format), ``OUTR?``.
    ``FAST`` is kept but streams nothing: fast transfer is a GPIB feature and this port is RS-232.
    Points due are computed when a command arrives, in chunks of a quarter time constant within
    which the input is held, so the buffer sees a stage move or a source change as ``OUTP?`` does.

    Status (chapter 5, "Status reporting commands"): ``*ESR``/``*ESE``, ``ERRS``/``ERRE``,
    ``LIAS``/``LIAE`` (bit 0 input overload when the input exceeds the range, 2 output overload
    when X or Y exceeds the sensitivity, 6 a triggered sample), ``*STB?`` with SCN (no scan in
    progress), IFC, ERR, LIA, ESB and SRQ each gated by its enable register, ``*SRE``, ``*PSC``;
    PON is set at power-up. ``HARM`` detects at n x the reference: a 50 % square-wave chopper
    gives 1/n of the fundamental for odd n and nothing for even n; ``FREQ`` x ``HARM`` is limited
    to 102 kHz. ``OEXP``/``AOFF`` offsets and expands act on the displays and so on the buffer;
    ``AUXV`` sets the aux outputs (published as ``{name}.aux_out``); ``OAUX?`` reads 0 V (nothing is
    wired to the aux inputs); ``SSET``/``RSET`` save and recall nine setups (they survive ``*RST``).
    Kept and answered without acting on the model: ``FMOD``, ``RSLP``, ``ISRC``, ``IGND``, ``ICPL``,
    ``ILIN``, ``RMOD``, ``SYNC``, ``FPOP``, ``KCLK``, ``ALRM``, ``LOCL``, ``OVRM``.

    Unverified: where the first point of a scan falls (taken at the start instant), the storage
    settings after ``*RST`` (1 Hz, loop, no trigger start) and the noise displays (shown as the
    model's input noise density in V/rtHz).
    """

    model = "srs_sr830"
    description = "SRS SR830 DSP lock-in (RS-232, CR replies; data buffer; optional THz-path coupling)"
    transport = "serial"
    input_terminators = (b"\n", b"\r")
    reply_terminator = "\r"
    idn = "Stanford_Research_Systems,SR830,s/n00111,ver1.000"
    output_codes: ClassVar[dict[int, str]] = {
        1: "x", 2: "y", 3: "r", 4: "theta", 5: "aux", 6: "aux", 7: "aux", 8: "aux",
        9: "frequency", 10: "x", 11: "y",
    }
    defaults: ClassVar[dict[str, Any]] = {
        "frequency": 1000.0, "amplitude": 1.0, "sens_index": 26, "tc_index": 8, "slope_index": 1,
    }
    kept_settings: ClassVar[dict[str, tuple[int, int, int]]] = {
        "FMOD": (0, 1, 1), "RSLP": (0, 2, 0), "ISRC": (0, 3, 0), "IGND": (0, 1, 0),
        "ICPL": (0, 1, 0), "ILIN": (0, 3, 0), "RMOD": (0, 2, 1), "SYNC": (0, 1, 0),
        "KCLK": (0, 1, 1), "ALRM": (0, 1, 1), "LOCL": (0, 2, 0), "OVRM": (0, 1, 0),
    }

    def reset(self) -> None:
        super().reset()
        self.srat, self.send, self.tstr, self.fast = 4, 1, 0, 0
        self.fpop = [0, 0]
        self.oexp = [[0.0, 0], [0.0, 0], [0.0, 0]]  # X, Y, R: offset %, expand code (1, 10, 100)
        if not hasattr(self, "setups"):
            self.setups: dict[int, dict[str, Any]] = {}
        self.ddef = [[0, 0], [0, 0]]  # per channel: display code, ratio code
        self._storage_reset()

    def _storage_reset(self) -> None:
        self.buffer: deque[tuple[float, float]] = deque(maxlen=SR830_BUFFER_POINTS)
        self.scan = "reset"  # reset | armed (waiting for a trigger) | running | paused | done
        self._t0 = 0.0
        self._k = 0

    def _scanning(self) -> bool:
        return self.scan in ("running", "armed")

    def _start(self, t0: float) -> None:
        self.scan, self._t0, self._k = "running", t0, 0

    # -- storage in simulated time ------------------------------------------------------------
    def _store_due(self, now: float) -> None:
        if self.scan != "running" or self.srat == SRAT_TRIGGER:
            return
        rate = sr830_sample_rate(self.srat)
        due = math.floor((now - self._t0) * rate + 1e-9) + 1 - self._k
        if due <= 0:
            return
        if self.send == 0:
            due = min(due, SR830_BUFFER_POINTS - len(self.buffer))
        elif due > SR830_BUFFER_POINTS:  # a loop keeps only the newest points: skip the rest
            self._k += due - SR830_BUFFER_POINTS
            due = SR830_BUFFER_POINTS
        times = self._t0 + (self._k + np.arange(due)) / rate
        # The input is re-read once per chunk: a quarter time constant (at least one sample).
        chunk = max(1, int(0.25 * self.tau * rate))
        for i in range(0, due, chunk):
            xs, ys = self._readings_at(times[i:i + chunk])
            self.buffer.extend(self._displays(float(x), float(y)) for x, y in zip(xs, ys, strict=True))
        self._k += due
        if self.send == 0 and len(self.buffer) >= SR830_BUFFER_POINTS:
            self.scan = "done"

    def _displays(self, x: float, y: float) -> tuple[float, float]:
        r = math.hypot(x, y)
        if self.lias & (1 << LIAS_OUTPUT):
            r = min(r, self.sensitivity)
        s = self.sensitivity
        # OEXP offsets (percent of full scale) and expands (x1, x10, x100) act on X, Y and R.
        x, y, r = ((v - o / 100.0 * s) * 10 ** e for v, (o, e) in zip((x, y, r), self.oexp, strict=True))
        ch1 = (x, r, self.noise_density(), 0.0, 0.0)[self.ddef[0][0]]
        ch2 = (y, math.degrees(math.atan2(y, x)), self.noise_density(), 0.0, 0.0)[self.ddef[1][0]]
        return ch1, ch2

    # -- commands -----------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Callable[[bool, list[str]], str | bytes | None]]:
        return {**super()._handlers(), "OUTX": self._outx,
                "SRAT": self._setting("srat", 0, 14), "SEND": self._setting("send", 0, 1),
                "TSTR": self._setting("tstr", 0, 1), "FAST": self._setting("fast", 0, 2),
                "TRIG": self._trig, "STRT": self._strt, "PAUS": self._paus, "REST": self._rest,
                "STRD": self._strd, "SPTS": self._spts, "TRCA": self._trca, "TRCB": self._trcb,
                "TRCL": self._trcl, "DDEF": self._ddef, "OUTR": self._outr, "FPOP": self._fpop,
                "OEXP": self._oexp, "AOFF": self._aoff, "SSET": self._sset, "RSET": self._rset}

    def _fpop(self, query: bool, args: list[str]) -> str | None:
        channel = _int_arg(args, 1, 2)
        if query:
            return str(self.fpop[channel - 1])
        self.fpop[channel - 1] = _int_arg(args, 0, 1, 1)
        return None

    def _oexp(self, query: bool, args: list[str]) -> str | None:
        i = _int_arg(args, 1, 3)
        if query:
            offset, expand = self.oexp[i - 1]
            return f"{offset:.2f},{expand}"
        self._event()
        self.oexp[i - 1] = [round(_float_arg(args, -105.0, 105.0, 1), 2), _int_arg(args, 0, 2, 2)]
        return None

    def _aoff(self, query: bool, args: list[str]) -> None:
        """Auto offset: the offset that zeroes X, Y or R now."""
        self._action(query)
        i = _int_arg(args, 1, 3)
        x, y = self._sample()
        value = (x, y, math.hypot(x, y))[i - 1]
        offset = max(-105.0, min(105.0, round(100.0 * value / self.sensitivity, 2))) + 0.0  # no -0.00
        self.oexp[i - 1][0] = offset

    _SETUP_ATTRS = ("frequency", "amplitude", "phase", "sens_index", "tc_index", "slope_index", "harmonic",
                    "srat", "send", "tstr", "ddef", "fpop", "oexp", "kept", "aux_out")

    def _sset(self, query: bool, args: list[str]) -> None:
        """Save the settings in setup buffer 1..9."""
        self._action(query)
        self.setups[_int_arg(args, 1, 9)] = {a: copy.deepcopy(getattr(self, a)) for a in self._SETUP_ATTRS}

    def _rset(self, query: bool, args: list[str]) -> None:
        """Recall setup 1..9; a buffer never saved is an execution error."""
        self._action(query)
        saved = self.setups.get(_int_arg(args, 1, 9))
        if saved is None:
            raise ExecutionError

        def change() -> None:
            for attr, value in saved.items():
                setattr(self, attr, copy.deepcopy(value))
            self._stages = [self._stages[-1]] * (self.slope_index + 1)
            self._publish()
        self._event(change)

    def _setting(self, attr: str, lo: int, hi: int) -> Callable[[bool, list[str]], str | None]:
        def handler(query: bool, args: list[str]) -> str | None:
            if query:
                return str(getattr(self, attr))
            value = _int_arg(args, lo, hi)
            self._event()  # points due under the old setting are stored under it
            setattr(self, attr, value)
            return None
        return handler

    @staticmethod
    def _action(query: bool) -> None:
        if query:
            raise CommandError

    def _trig(self, query: bool, args: list[str]) -> None:
        self._action(query)
        self._event()
        now = self.world.clock.now()
        if self.scan == "armed":
            self._start(now)
        elif self.scan == "running" and self.srat == SRAT_TRIGGER:
            if self.send == 1 or len(self.buffer) < SR830_BUFFER_POINTS:
                self.buffer.append(self._displays(*self._noisy(self._stages[-1])))
                self.lias |= 1 << LIAS_TRIGGER
            if self.send == 0 and len(self.buffer) >= SR830_BUFFER_POINTS:
                self.scan = "done"

    def _strt(self, query: bool, args: list[str]) -> None:
        self._action(query)
        self._event()
        if self.scan == "reset" and self.tstr and self.srat != SRAT_TRIGGER:
            self.scan = "armed"
        elif self.scan in ("reset", "paused"):
            self._start(self.world.clock.now())

    def _strd(self, query: bool, args: list[str]) -> None:
        self._action(query)
        self._event()
        if self.scan in ("reset", "paused"):
            self._start(self.world.clock.now() + 0.5)

    def _paus(self, query: bool, args: list[str]) -> None:
        self._action(query)
        self._event()
        if self.scan in ("running", "armed"):
            self.scan = "paused"

    def _rest(self, query: bool, args: list[str]) -> None:
        self._action(query)
        self._event()
        self._storage_reset()

    def _spts(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        self._event()
        return str(len(self.buffer))

    def _points(self, query: bool, args: list[str]) -> list[float]:
        """The points ``TRC?? i,j,k`` asks for; out of range is an execution error."""
        if not query:
            raise CommandError
        self._event()
        channel = _int_arg(args, 1, 2)
        first = _int_arg(args, 0, SR830_BUFFER_POINTS - 1, 1)
        count = _int_arg(args, 1, SR830_BUFFER_POINTS, 2)
        if first + count > len(self.buffer):
            raise ExecutionError
        return [self.buffer[i][channel - 1] for i in range(first, first + count)]

    def _trca(self, query: bool, args: list[str]) -> str:
        return "".join(trca_number(v) + "," for v in self._points(query, args))

    def _trcb(self, query: bool, args: list[str]) -> bytes:
        values = self._points(query, args)
        return struct.pack(f"<{len(values)}f", *values)

    def _trcl(self, query: bool, args: list[str]) -> bytes:
        return b"".join(trcl_bytes(v) for v in self._points(query, args))

    def _ddef(self, query: bool, args: list[str]) -> str | None:
        channel = _int_arg(args, 1, 2)
        if query:
            return ",".join(str(v) for v in self.ddef[channel - 1])
        self._event()
        self.ddef[channel - 1] = [_int_arg(args, 0, 4, 1), _int_arg(args, 0, 4, 2) if len(args) > 2 else 0]
        return None

    def _outr(self, query: bool, args: list[str]) -> str:
        if not query:
            raise CommandError
        channel = _int_arg(args, 1, 2)
        return _fmt(self._displays(*self._sample())[channel - 1])

    def _outx(self, query: bool, args: list[str]) -> str | None:
        if query:
            return str(self.outx)
        self.outx = _int_arg(args, 0, 1)
        return None

    def _replies_here(self) -> bool:
        # OUTX 1 sends replies to GPIB: this RS-232 port stays silent.
        return self.outx == 0
