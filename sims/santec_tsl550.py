"""Simulated Santec TSL-550 tunable laser (SCPI-style commands, CR delimiter).

Same bytes as the instrument (see :mod:`hilt.drivers.santec_tsl550`): wavelength in nm with four
decimals, power in the unit of ``:POW:UNIT`` (0 dBm, 1 mW), the error queue (-222 out of range,
-113 unknown header). It publishes ``<name>.wavelength`` (m), ``<name>.power_w`` (W; light leaves
the fibre only while ``<name>.output`` is true) and ``<name>.output``, and
``<name>.wavelength_fn`` (``fn(t) -> metres``, the wavelength at simulated time ``t``, which a
sweep moves).

The SCPI command list beyond the driver's (the Santec TSL-5xx SCPI command set as the TSL-570
operation manual lists it, pp. 69-99, which the TSL-550's SCPI firmware shares; page numbers as a
public driver cites them, the manual's own pages were not retrievable, so the replies below are
**unverified** on a TSL-550):

* wavelength: ``:WAV:UNIT 0|1`` (display nm/THz), ``:WAV:FIN`` (-100..100, fine tuning),
  ``:WAV:OFFS`` (-0.1..0.1 nm, added to the output), ``:FREQ`` (THz, the same setpoint as ``:WAV``);
* power: ``:POW:ATT`` (0..30 dB) and ``:POW:ATT:AUT`` (1: the power setpoint holds; 0: manual
  attenuation, output = 10 mW less the attenuation), ``:POW:SHUT`` (1 closed: no light),
  ``:COHC`` coherence control and ``:AM:STAT``/``:AM:SOUR`` kept;
* sweep: ``:WAV:SWE:STAR``/``:STOP`` (nm; ``:FREQ:SWE:STAR``/``:STOP`` in THz), ``:WAV:SWE:MOD``
  (0 step one-way, 1 continuous one-way, 2 step two-way, 3 continuous two-way), ``:WAV:SWE:SPE``
  (1, 2, 5, 10, 20, 50, 100, 200 nm/s), ``:WAV:SWE:STEP`` (nm; ``:FREQ:SWE:STEP`` in THz, taken
  at the start wavelength), ``:WAV:SWE:DWEL`` and
  ``:WAV:SWE:DEL`` (s), ``:WAV:SWE:CYCL`` (0..999 repetitions; 0 runs one sweep), ``:WAV:SWE:COUN?``
  (sweeps done), ``:WAV:SWE[:STAT] 1`` starts, ``0`` stops, ``?`` answers 0 stopped, 1 running, 3
  waiting for a trigger; ``:WAV:SWE:STAT:REP`` starts a sweep that repeats until stopped;
* triggers: ``:TRIG:INP:EXT 1`` makes a started sweep wait (state 3) for a trigger,
  ``:TRIG:INP:SOFT`` is that trigger, ``:TRIG:INP:EXT:ACT``, ``:TRIG:INP:STAN``, ``:TRIG:OUTP:ACT``,
  ``:TRIG:THR`` kept; ``:TRIG:OUTP`` (0 none, 1 stop, 2 start, 3 step), ``:TRIG:OUTP:STEP``
  (nm between step triggers), ``:TRIG:OUTP:SETT`` (0 time, 1 wavelength);
* logging: during a continuous sweep with step output triggers the laser logs its wavelength at
  every trigger: ``:READ:POIN?`` the points logged, ``:READ:DAT?`` their wavelengths as an
  IEEE 488.2 block of little-endian int32 in 0.1 pm, ``:READ:DAT:POW?`` the output power (dBm)
  at each as little-endian float32;
* ``:SYST:ALER?`` (``0,"No alert"``), ``:SYST:LOCK?`` (interlock, 1 closed).

Physics in simulated time (the world's clock): a sweep moves the wavelength at its speed
(continuous) or in steps of ``STEP`` held for ``DWEL`` (step mode), from ``STAR`` to ``STOP`` (and
back in two-way modes), with ``DEL`` between sweeps; ``:WAV?`` answers where the sweep is and the
world sees it through ``wavelength_fn``. While a sweep runs a new ``:WAV`` is refused (-221
settings conflict).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from hilt.sims.scpi import (
    SCPI_ERRORS,
    ScpiInstrument,
    ScpiValueError,
    command,
    ieee_block,
    parse_bool,
    parse_number,
)
from hilt.sims.sweeps import SweepPlan, plan_sweep

SCPI_ERRORS.setdefault(-221, "Settings conflict")

C = 299_792_458.0
SPEEDS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)  # nm/s
STOPPED, RUNNING, STANDBY = 0, 1, 3


def _kept(key: str, choices: tuple[str, ...] = ("0", "1")) -> Callable[..., str | None]:
    """A handler for a setting kept and answered back that changes nothing simulated."""

    def handler(self: SimTSL550, arg: str, query: bool) -> str | None:
        if query:
            return self.kept[key]
        if arg.strip() not in choices:
            raise ScpiValueError(-224, f"{key} {arg.strip()!r}: one of {', '.join(choices)}")
        self.kept[key] = arg.strip()
        return None

    return handler


class SimTSL550(ScpiInstrument):
    model = "santec_tsl550"
    description = "Santec TSL-550 tunable laser (SCPI-style, CR)"
    transport = "tcp"
    input_terminators = (b"\r", b"\n")
    reply_terminator = "\r"

    def __init__(self, *args: Any, serial: str = "15020001",
                 wavelength_range: tuple[float, float] = (1500e-9, 1630e-9), **kwargs: Any) -> None:
        self.wavelength_range = (float(wavelength_range[0]), float(wavelength_range[1]))
        self.idn = f"SANTEC,TSL-550,{serial},0001.0000"
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.setpoint_nm = 1550.0
        self.wavelength = 1550e-9
        self.power_mw = 1.0
        self.unit_mw = False
        self.output = False
        self.unit_thz = False
        self.fine = 0.0
        self.offset_nm = 0.0
        self.attenuation = 0.0
        self.auto_power = True
        self.shutter_closed = False
        self.kept: dict[str, str] = {"COHC": "0", "AM:STAT": "0", "AM:SOUR": "0", "TRIG:INP:EXT:ACT": "0",
                                     "TRIG:INP:STAN": "0", "TRIG:OUTP:ACT": "0", "TRIG:THR": "0"}
        lo, hi = (x * 1e9 for x in self.wavelength_range)
        self.sweep_start, self.sweep_stop = lo, hi
        self.sweep_mode, self.sweep_speed, self.sweep_step = 1, 10.0, 1.0
        self.sweep_dwell, self.sweep_delay, self.sweep_cycles = 0.0, 0.0, 0
        self.trigger_external, self.trigger_out, self.trigger_out_step, self.trigger_out_setting = False, 0, 0.1, 1
        self.plan: SweepPlan | None = None
        self.sweeps_counted = 0  # the last finished or stopped run's sweeps
        self.waiting = False  # started, waiting for a trigger
        self.repeat = False
        self.log_nm = np.zeros(0)
        self.log_dbm = np.zeros(0, dtype=np.float32)
        self._publish()

    # -- world ------------------------------------------------------------------------------------
    def wavelength_at(self, t: float) -> float:
        """The emitted wavelength (m) at simulated time ``t``."""
        nm = self.plan.value(t) if self.plan is not None else self.setpoint_nm
        return (nm + self.offset_nm + self.fine * 1e-4) * 1e-9  # fine tuning: 0.1 pm a unit (*verify*)

    def emitted_mw(self) -> float:
        if self.auto_power:
            return self.power_mw
        return 10.0 * 10 ** (-self.attenuation / 10)

    def _publish(self) -> None:
        self.wavelength = self.wavelength_at(self.world.clock.now())
        self.world.update({
            f"{self.name}.wavelength": self.wavelength,
            f"{self.name}.wavelength_fn": self.wavelength_at,
            f"{self.name}.power_w": self.emitted_mw() * 1e-3,
            f"{self.name}.output": self.output and not self.shutter_closed,
        })

    def _advance(self) -> None:
        """Bring the sweep up to the simulated clock: a finished sweep leaves the wavelength at its
        end and stops."""
        if self.plan is not None and self.plan.done(self.world.clock.now()):
            self.setpoint_nm = float(self.plan.values[-1])
            self.sweeps_counted = int(self.plan.sweep_ends.size)
            self.plan = None
        self._publish()

    def execute(self, text: str, session: Any) -> str | bytes | None:
        self._advance()
        return super().execute(text, session)

    # -- the sweep --------------------------------------------------------------------------------
    def _plan(self, t0: float) -> SweepPlan:
        return plan_sweep(t0, self.sweep_start, self.sweep_stop, speed=self.sweep_speed,
                          step=self.sweep_step if self.sweep_mode in (0, 2) else None,
                          two_way=self.sweep_mode in (2, 3), dwell=self.sweep_dwell,
                          cycles=max(1, self.sweep_cycles), delay=self.sweep_delay, repeat=self.repeat)

    def _start(self, now: float) -> None:
        self.plan = self._plan(now)
        self.sweeps_counted = 0
        self.waiting = False
        self._log(self.plan)
        self._publish()

    def _log(self, plan: SweepPlan) -> None:
        """What the wavelength log holds after this sweep: one point per step output trigger of a
        continuous sweep (logged as the sweep starts: the trajectory is known)."""
        if self.trigger_out != 3 or self.sweep_mode not in (1, 3):
            self.log_nm = np.zeros(0)
            self.log_dbm = np.zeros(0, dtype=np.float32)
            return
        span = self.sweep_stop - self.sweep_start
        k = int(math.floor(abs(span) / self.trigger_out_step + 1e-9))
        self.log_nm = self.sweep_start + np.sign(span) * self.trigger_out_step * np.arange(k + 1)
        dbm = 10 * math.log10(self.emitted_mw()) if self.emitted_mw() > 0 else -40.0
        self.log_dbm = np.full(self.log_nm.size, dbm, dtype=np.float32)

    def _state(self) -> int:
        if self.waiting:
            return STANDBY
        return RUNNING if self.plan is not None else STOPPED

    # -- wavelength -------------------------------------------------------------------------------
    def _show(self, mw: float) -> str:
        if self.unit_mw:
            return f"{mw:.4f}"
        return f"{10 * math.log10(mw):.3f}" if mw > 0 else "-40.000"

    def _nm(self, arg: str) -> float:
        lo, hi = self.wavelength_range
        return parse_number(arg, minimum=lo * 1e9, maximum=hi * 1e9)

    def _thz(self, arg: str) -> float:
        """A frequency argument (THz) as a wavelength (nm) inside the range."""
        lo, hi = self.wavelength_range
        thz = parse_number(arg, minimum=C / hi * 1e-12, maximum=C / lo * 1e-12)
        return C / (thz * 1e12) * 1e9

    def _set_wavelength(self, nm: float) -> None:
        if self.plan is not None or self.waiting:
            raise ScpiValueError(-221, "a sweep is running")
        self.setpoint_nm = nm
        self._publish()

    @command(":WAVelength")
    def _wavelength(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.wavelength * 1e9:.4f}"
        self._set_wavelength(self._nm(arg))
        return None

    @command(":FREQuency")
    def _frequency(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{C / self.wavelength * 1e-12:.5f}"
        self._set_wavelength(self._thz(arg))
        return None

    @command(":WAVelength:UNIT")
    def _wavelength_unit(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.unit_thz else "0"
        self.unit_thz = self._flag(arg)
        return None

    @command(":WAVelength:FINe")
    def _fine(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.fine:.2f}"
        self.fine = parse_number(arg, minimum=-100.0, maximum=100.0)
        self._publish()
        return None

    @command(":WAVelength:FINetuning:DISable", query=False)
    def _fine_off(self, arg: str, query: bool) -> None:
        self.fine = 0.0
        self._publish()

    @command(":WAVelength:OFFSet")
    def _offset(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.offset_nm:.4f}"
        self.offset_nm = parse_number(arg, minimum=-0.1, maximum=0.1)
        self._publish()
        return None

    # -- power ------------------------------------------------------------------------------------
    @staticmethod
    def _flag(arg: str) -> bool:
        word = arg.strip()
        if word not in ("0", "1"):
            raise ScpiValueError(-224, arg)
        return word == "1"

    @command(":POWer[:LEVel]")
    def _power(self, arg: str, query: bool) -> str | None:
        if query:
            return self._show(self.power_mw)
        value = parse_number(arg)
        mw = value if self.unit_mw else 10 ** (value / 10)
        if not 0.02 <= mw <= 10.0 * (1 + 1e-9):
            raise ScpiValueError(-222, f"{mw:g} mW outside [0.02, 10]")
        self.power_mw = mw
        self._publish()
        return None

    @command(":POWer:ACTual[:LEVel]", query=True)
    def _actual(self, arg: str, query: bool) -> str | None:
        on = self.output and not self.shutter_closed
        return self._show(self.emitted_mw() if on else 0.0)

    @command(":POWer:UNIT")
    def _unit(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.unit_mw else "0"
        self.unit_mw = self._flag(arg)
        return None

    @command(":POWer:STATe")
    def _state_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    @command(":POWer:ATTenuation")
    def _attenuation(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.attenuation:.2f}"
        self.attenuation = parse_number(arg, minimum=0.0, maximum=30.0)
        self._publish()
        return None

    @command(":POWer:ATTenuation:AUTo")
    def _auto_power(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.auto_power else "0"
        self.auto_power = self._flag(arg)
        self._publish()
        return None

    @command(":POWer:SHUTter")
    def _shutter(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.shutter_closed else "0"
        self.shutter_closed = self._flag(arg)
        self._publish()
        return None

    _coherence = command(":COHCtrl")(_kept("COHC"))
    _am_state = command(":AM:STATe")(_kept("AM:STAT"))
    _am_source = command(":AM:SOURce")(_kept("AM:SOUR", ("0", "1", "3")))
    _trigger_in_active = command(":TRIGger:INPut:EXTernal:ACTive")(_kept("TRIG:INP:EXT:ACT"))
    _trigger_in_standby = command(":TRIGger:INPut:STANdby")(_kept("TRIG:INP:STAN"))
    _trigger_out_active = command(":TRIGger:OUTPut:ACTive")(_kept("TRIG:OUTP:ACT"))
    _trigger_through = command(":TRIGger:THRough")(_kept("TRIG:THR"))

    # -- sweep settings ---------------------------------------------------------------------------
    @command(":WAVelength:SWEep:STARt")
    def _sweep_start(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.sweep_start:.4f}"
        self.sweep_start = self._nm(arg)
        return None

    @command(":WAVelength:SWEep:STOP")
    def _sweep_stop(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.sweep_stop:.4f}"
        self.sweep_stop = self._nm(arg)
        return None

    @command(":FREQuency:SWEep:STARt")
    def _sweep_start_thz(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{C / (self.sweep_start * 1e-9) * 1e-12:.5f}"
        self.sweep_start = self._thz(arg)
        return None

    @command(":FREQuency:SWEep:STOP")
    def _sweep_stop_thz(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{C / (self.sweep_stop * 1e-9) * 1e-12:.5f}"
        self.sweep_stop = self._thz(arg)
        return None

    @command(":WAVelength:SWEep:MODe")
    def _sweep_mode_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.sweep_mode)
        if arg.strip() not in ("0", "1", "2", "3"):
            raise ScpiValueError(-224, f"sweep mode {arg.strip()!r}: 0..3")
        self.sweep_mode = int(arg)
        return None

    @command(":WAVelength:SWEep:SPEed")
    def _sweep_speed_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.sweep_speed:.1f}"
        value = parse_number(arg)
        if value not in SPEEDS:
            raise ScpiValueError(-224, f"{value:g} nm/s: one of {', '.join(f'{s:g}' for s in SPEEDS)}")
        self.sweep_speed = value
        return None

    @command(":WAVelength:SWEep:STEP")
    def _sweep_step_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.sweep_step:.4f}"
        self.sweep_step = parse_number(arg, minimum=0.0001, maximum=160.0)
        return None

    @command(":FREQuency:SWEep:STEP")
    def _sweep_step_thz(self, arg: str, query: bool) -> str | None:
        # A frequency step is the wavelength step at the sweep's start: dlambda = lambda^2 df / c.
        lam = self.sweep_start * 1e-9
        if query:
            return f"{C * self.sweep_step * 1e-9 / lam**2 * 1e-12:.5f}"
        thz = parse_number(arg, minimum=0.00002, maximum=10.0)
        self.sweep_step = max(0.0001, lam**2 * thz * 1e12 / C * 1e9)
        return None

    @command(":WAVelength:SWEep:DWELl")
    def _sweep_dwell_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.sweep_dwell:.1f}"
        self.sweep_dwell = parse_number(arg, "S", minimum=0.0, maximum=999.9)
        return None

    @command(":WAVelength:SWEep:DELay")
    def _sweep_delay_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.sweep_delay:.1f}"
        self.sweep_delay = parse_number(arg, "S", minimum=0.0, maximum=999.9)
        return None

    @command(":WAVelength:SWEep:CYCLes")
    def _sweep_cycles_cmd(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.sweep_cycles)
        value = parse_number(arg, minimum=0, maximum=999)
        if value != int(value):
            raise ScpiValueError(-224, f"cycles {value:g}: a whole number")
        self.sweep_cycles = int(value)
        return None

    @command(":WAVelength:SWEep:COUNt", query=True)
    def _sweep_count(self, arg: str, query: bool) -> str:
        return str(self.plan.sweeps_done(self.world.clock.now()) if self.plan is not None else self.sweeps_counted)

    @command(":WAVelength:SWEep[:STATe]")
    def _sweep_state(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self._state())
        self.repeat = False
        if self._flag(arg):
            if self.sweep_start == self.sweep_stop:
                raise ScpiValueError(-221, "sweep start equals stop")
            if self.trigger_external:
                self.plan, self.waiting = None, True
            else:
                self._start(self.world.clock.now())
        else:
            self._stop()
        return None

    @command(":WAVelength:SWEep:STATe:REPeat", query=False)
    def _sweep_repeat(self, arg: str, query: bool) -> None:
        self._sweep_state("1", False)
        self.repeat = True
        if self.plan is not None:
            self._start(self.plan.t0)

    def _stop(self) -> None:
        if self.plan is not None:
            now = self.world.clock.now()
            self.setpoint_nm = self.plan.value(now)
            self.sweeps_counted = self.plan.sweeps_done(now)
        self.plan, self.waiting, self.repeat = None, False, False
        self._publish()

    # -- triggers and logging ---------------------------------------------------------------------
    @command(":TRIGger:INPut:EXTernal")
    def _trigger_external(self, arg: str, query: bool) -> str | None:
        if query:
            return "1" if self.trigger_external else "0"
        self.trigger_external = self._flag(arg)
        return None

    @command(":TRIGger:INPut:SOFTtrigger", query=False)
    def _software_trigger(self, arg: str, query: bool) -> None:
        if not self.waiting:
            raise ScpiValueError(-221, "no sweep is waiting for a trigger")
        self._start(self.world.clock.now())

    @command(":TRIGger:OUTPut")
    def _trigger_output(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.trigger_out)
        if arg.strip() not in ("0", "1", "2", "3"):
            raise ScpiValueError(-224, f"trigger output {arg.strip()!r}: 0 none, 1 stop, 2 start, 3 step")
        self.trigger_out = int(arg)
        return None

    @command(":TRIGger:OUTPut:STEP")
    def _trigger_step(self, arg: str, query: bool) -> str | None:
        if query:
            return f"{self.trigger_out_step:.4f}"
        self.trigger_out_step = parse_number(arg, minimum=0.0001, maximum=160.0)
        return None

    @command(":TRIGger:OUTPut:SETTing")
    def _trigger_setting(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.trigger_out_setting)
        self.trigger_out_setting = int(self._flag(arg))
        return None

    @command(":READout:POINts", query=True)
    def _log_points(self, arg: str, query: bool) -> str:
        return str(self._logged())

    def _logged(self) -> int:
        """Points logged so far: those whose wavelength the running sweep has passed."""
        if self.plan is None or self.log_nm.size == 0:
            return int(self.log_nm.size)
        first = self.plan.sweep_ends[0]
        tau = min(self.world.clock.now() - self.plan.t0, first)
        passed = abs(self.sweep_stop - self.sweep_start) * tau / first if first > 0 else 0.0
        return int(min(self.log_nm.size, math.floor(passed / self.trigger_out_step + 1e-9) + 1))

    @command(":READout:DATa", query=True)
    def _log_wavelengths(self, arg: str, query: bool) -> bytes:
        n = self._logged()
        return ieee_block(np.round(self.log_nm[:n] * 1e4).astype("<i4").tobytes())  # 0.1 pm units

    @command(":READout:DATa:POWer", query=True)
    def _log_powers(self, arg: str, query: bool) -> bytes:
        return ieee_block(self.log_dbm[: self._logged()].astype("<f4").tobytes())

    # -- system -----------------------------------------------------------------------------------
    @command(":SYSTem:ALERt", query=True)
    def _alert(self, arg: str, query: bool) -> str:
        return '0,"No alert"'

    @command(":SYSTem:LOCK", query=True)
    def _lock(self, arg: str, query: bool) -> str:
        return "1"

    def state(self) -> dict[str, Any]:
        return {"wavelength": self.wavelength, "power_mw": self.power_mw, "output": self.output,
                "sweep": self._state()}
