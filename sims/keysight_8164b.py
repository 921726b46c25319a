"""Simulated Keysight 8164B with a tunable laser in slot 0 (SCPI on a raw socket, port 5025).

Same bytes as the instrument (see :mod:`hilt.drivers.keysight_8164b`): NR3 replies in metres and
in the power unit set by ``:SOUR0:POW:UNIT`` (0/DBM or 1/W), the SCPI error queue (-222 out of
range, -113 unknown header, -241 "Hardware missing" for an empty slot). It publishes what the
laser emits: ``<name>.wavelength`` (m), ``<name>.power_w`` (W), ``<name>.output`` (bool) and
``<name>.wavelength_fn`` (``fn(t) -> metres``, which a sweep moves).

Beyond the driver's commands (*8163A/B, 8164A/B & 8166A/B Mainframes Programming Guide*,
chapter 4; "verified" = read on the guide's pages, the rest from the guide's command list as
remembered, **unverified**):

* sweep: ``WAV:SWE:MODE STEP|MAN|CONT``, ``WAV:SWE:REP ONEW|TWOW``, ``WAV:SWE:STAR``/``STOP``
  (m), ``WAV:SWE:STEP[:WIDT]`` (m; in continuous mode the interval between output triggers,
  verified p. 213), ``WAV:SWE:SPE`` (m/s, ``NM/S`` accepted), ``WAV:SWE:CYCL``, ``WAV:SWE:DWEL``
  (s), ``WAV:SWE[:STAT] STOP|STAR|PAUS|CONT`` or ``0|1`` (query ``+0``/``+1``),
  ``WAV:SWE:CHEC?`` (``0,OK`` or ``-1,"Sweep parameters inconsistent"``-style text),
  ``WAV:SWE:EXP?`` (output triggers a continuous sweep will give), ``WAV:SWE:SOFT`` (software
  trigger: starts a sweep armed with ``TRIG0:INP SWS``, or the next step of a manual sweep);
* lambda logging (verified pp. 153, 170): ``WAV:SWE:LLOG ON|OFF``; it needs a continuous sweep,
  ``TRIG0:OUTP STF`` and modulation off, else starting the sweep switches it off and queues
  ``-221`` (the guide says "Sweep parameters inconsistent"); it is switched off at the end of a
  sweep. ``READ:DATA? LLOG`` answers the wavelength of every step trigger as an IEEE 488.2 block
  of 8-byte doubles in Intel (little-endian) order; ``READ:POIN? LLOG`` their number;
* triggers: ``TRIG<n>:OUTP DIS|AVG|MEAS|MOD|STF|SWF|SWST`` (verified p. 213; answered in the
  short upper-case form), ``TRIG<n>:INP IGN|NEXT|SWS`` (the laser's input modes),
  ``TRIG:CONF DIS|DEF|PASS|LOOP`` (answered 0..3);
* ``SOUR0:AM:STAT`` kept (a sweep with lambda logging refuses modulation on), ``POW:ATT`` kept
  (dB; the TLS's optional attenuator), ``WAV:FREQ`` kept (the relative-frequency reference, Hz);
* ``SLOT<n>:IDN?`` (the module's identity; ``-241`` for an empty slot), ``SLOT<n>:EMPT?``
  (``1`` for an empty slot), ``*OPT?`` (each slot's module, comma separated, blank when empty).

Physics in simulated time: a started sweep moves the wavelength at the sweep speed (continuous)
or in steps held for the dwell time (stepped), from start to stop (and back, two-way), ``CYCL``
times; ``WAV?`` and ``wavelength_fn`` follow it; a new ``WAV`` during a sweep is refused (-221).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hilt.sims.scpi import (
    SCPI_ERRORS,
    ScpiInstrument,
    ScpiValueError,
    command,
    fmt,
    ieee_block,
    parse_bool,
    parse_number,
)
from hilt.sims.sweeps import SweepPlan, plan_sweep

SCPI_ERRORS.setdefault(-241, "Hardware missing")
SCPI_ERRORS.setdefault(-221, "Settings conflict")

TRIGGER_OUTPUTS = {"DIS": "DIS", "DISABLED": "DIS", "AVG": "AVG", "AVGOVER": "AVG", "MEAS": "MEAS",
                   "MEASURE": "MEAS", "MOD": "MOD", "MODULATION": "MOD", "STF": "STF",
                   "STFINISHED": "STF", "SWF": "SWF", "SWFINISHED": "SWF", "SWST": "SWST",
                   "SWSTARTED": "SWST"}
TRIGGER_INPUTS = {"IGN": "IGN", "IGNORE": "IGN", "NEXT": "NEXT", "NEXTSTEP": "NEXT", "SWS": "SWS",
                  "SWSTART": "SWS"}
TRIGGER_CONFIGS = {"DIS": 0, "DISABLED": 0, "0": 0, "DEF": 1, "DEFAULT": 1, "1": 1, "PASS": 2,
                   "PASSTHROUGH": 2, "2": 2, "LOOP": 3, "LOOPBACK": 3, "3": 3}
SWEEP_MODES = {"STEP": "STEP", "STEPPED": "STEP", "MAN": "MAN", "MANUAL": "MAN", "CONT": "CONT",
               "CONTINUOUS": "CONT"}
SPEED_UNITS = {"M/S": 1.0, "MM/S": 1e-3, "UM/S": 1e-6, "NM/S": 1e-9}

UNITS = {"0": "DBM", "DBM": "DBM", "1": "W", "WATT": "W", "W": "W"}


def dbm_to_w(dbm: float) -> float:
    return 1e-3 * 10 ** (dbm / 10)


def w_to_dbm(watts: float) -> float:
    return 10 * math.log10(watts / 1e-3) if watts > 0 else -200.0


class Sim8164B(ScpiInstrument):
    model = "keysight_8164b"
    description = "Keysight 8164B lightwave mainframe with a tunable laser in slot 0 (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, slot: int = 0, serial: str = "DE00000001",
                 wavelength_range: tuple[float, float] = (1490e-9, 1640e-9),
                 power_range: tuple[float, float] = (1e-6, 20e-3), **kwargs: Any) -> None:
        self.slot = int(slot)
        self.wavelength_range = (float(wavelength_range[0]), float(wavelength_range[1]))
        self.power_range = (float(power_range[0]), float(power_range[1]))
        self.idn = f"Agilent Technologies,8164B,{serial},V5.25(72637)"
        self.module_serial = "DE00000002"
        # *OPT?: the module in each slot, slot 0 first, blank where a slot is empty.
        self.installed_options = ",".join("81600B" if k == self.slot else " " for k in range(5))
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.setpoint = 1550e-9
        self.wavelength = 1550e-9
        self.power_w = 1e-3
        self.unit = "DBM"
        self.output = False
        self.attenuation = 0.0
        self.frequency_reference = 0.0
        self.modulation = False
        lo, hi = self.wavelength_range
        self.sweep_start, self.sweep_stop = lo, hi
        self.sweep_mode, self.sweep_repeat = "STEP", "ONEW"
        self.sweep_step, self.sweep_speed = 1e-9, 10e-9
        self.sweep_cycles, self.sweep_dwell = 1, 0.5
        self.lambda_logging = False
        self.trigger_out, self.trigger_in, self.trigger_config = "DIS", "IGN", 1
        self.plan: SweepPlan | None = None
        self.armed = False  # started with TRIG:INP SWS, waiting for a trigger
        self.paused = False
        self.manual_step = 0  # manual sweeps: the step the laser is on
        self.logged = np.zeros(0)
        self._publish()

    def wavelength_at(self, t: float) -> float:
        """The emitted wavelength (m) at simulated time ``t``."""
        return self.plan.value(t) if self.plan is not None else self.setpoint

    def _publish(self) -> None:
        self.wavelength = self.wavelength_at(self.world.clock.now())
        self.world.update({
            f"{self.name}.wavelength": self.wavelength,
            f"{self.name}.wavelength_fn": self.wavelength_at,
            f"{self.name}.power_w": self.power_w,
            f"{self.name}.output": self.output,
        })

    def execute(self, text: str, session: Any) -> str | bytes | None:
        # Bring a running sweep up to the simulated clock first: one that has ended leaves the
        # laser at its last wavelength and switches lambda logging off.
        if self.plan is not None and self.plan.done(self.world.clock.now()):
            self.setpoint = float(self.plan.values[-1])
            self.plan = None
            self.lambda_logging = False
        self._publish()
        return super().execute(text, session)

    def _slot(self, n: str) -> None:
        if (int(n) if n else 0) != self.slot:
            raise ScpiValueError(-241, f"no laser in slot {n or 0}")

    @command("[:SOURce<n>]:WAVelength[:CW]")
    def _wavelength(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.wavelength)
        lo, hi = self.wavelength_range
        value = parse_number(arg, "M", minimum=lo, maximum=hi)
        if self.plan is not None or self.armed:
            raise ScpiValueError(-221, "a sweep is running")
        self.setpoint = value
        self._publish()
        return None

    @command("[:SOURce<n>]:POWer[:LEVel][:IMMediate][:AMPLitude]")
    def _power(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.power_w if self.unit == "W" else w_to_dbm(self.power_w))
        text = arg.strip().upper()
        if text.endswith("DBM"):
            watts = dbm_to_w(parse_number(text[:-3]))
        elif text and text[-1] == "W":
            watts = parse_number(text, "W")
        else:
            value = parse_number(text)
            watts = value if self.unit == "W" else dbm_to_w(value)
        lo, hi = self.power_range
        if not lo * (1 - 1e-9) <= watts <= hi * (1 + 1e-9):
            raise ScpiValueError(-222, f"{watts:g} W outside [{lo:g}, {hi:g}]")
        self.power_w = watts
        self._publish()
        return None

    @command("[:SOURce<n>]:POWer:UNIT")
    def _unit(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return "+1" if self.unit == "W" else "+0"
        word = arg.strip().upper()
        if word not in UNITS:
            raise ScpiValueError(-224, arg)
        self.unit = UNITS[word]
        return None

    @command("[:SOURce<n>]:POWer:STATe")
    def _state(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return "1" if self.output else "0"
        self.output = parse_bool(arg)
        self._publish()
        return None

    @command("[:SOURce<n>]:WAVelength:FREQuency")
    def _frequency_reference(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.frequency_reference)
        self.frequency_reference = parse_number(arg, "HZ", minimum=-1e15, maximum=1e15)
        return None

    @command("[:SOURce<n>]:POWer:ATTenuation")
    def _attenuation(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.attenuation)
        self.attenuation = parse_number(arg, minimum=0.0, maximum=60.0)
        return None

    @command("[:SOURce<n>]:AM:STATe")
    def _modulation(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return "1" if self.modulation else "0"
        self.modulation = parse_bool(arg)
        return None

    # -- sweep settings -------------------------------------------------------------------------
    @staticmethod
    def _choice(arg: str, table: dict[str, Any], what: str) -> Any:
        word = arg.strip().upper()
        if word not in table:
            raise ScpiValueError(-224, f"{what} {arg.strip()!r}")
        return table[word]

    @command("[:SOURce<n>]:WAVelength:SWEep:MODE")
    def _sweep_mode_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return self.sweep_mode
        self.sweep_mode = self._choice(arg, SWEEP_MODES, "sweep mode")
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:REPeat")
    def _sweep_repeat_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return self.sweep_repeat
        self.sweep_repeat = self._choice(arg, {"ONEW": "ONEW", "ONEWAY": "ONEW", "TWOW": "TWOW",
                                               "TWOWAY": "TWOW"}, "repeat mode")
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:STARt")
    def _sweep_start_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.sweep_start)
        self.sweep_start = parse_number(arg, "M", minimum=self.wavelength_range[0], maximum=self.wavelength_range[1])
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:STOP")
    def _sweep_stop_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.sweep_stop)
        self.sweep_stop = parse_number(arg, "M", minimum=self.wavelength_range[0], maximum=self.wavelength_range[1])
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:STEP[:WIDTh]")
    def _sweep_step_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.sweep_step)
        self.sweep_step = parse_number(arg, "M", minimum=0.1e-12, maximum=200e-9)
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:SPEed")
    def _sweep_speed_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.sweep_speed)
        text = arg.strip().upper()
        for unit, scale in sorted(SPEED_UNITS.items(), key=lambda kv: -len(kv[0])):
            if text.endswith(unit):
                value = parse_number(text[: -len(unit)]) * scale
                break
        else:
            value = parse_number(text)
        if not 0.5e-9 <= value <= 200e-9:
            raise ScpiValueError(-222, f"{value:g} m/s outside [0.5, 200] nm/s")
        self.sweep_speed = value
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:CYCLes")
    def _sweep_cycles_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return f"{self.sweep_cycles:+d}"
        value = parse_number(arg, minimum=1, maximum=999)
        self.sweep_cycles = int(value)
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:DWELl")
    def _sweep_dwell_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return fmt(self.sweep_dwell)
        self.sweep_dwell = parse_number(arg, "S", minimum=0.0, maximum=1e4)
        return None

    @command("[:SOURce<n>]:WAVelength:SWEep:LLOGging")
    def _lambda_logging_cmd(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            return "1" if self.lambda_logging else "0"
        self.lambda_logging = parse_bool(arg)
        return None

    def _inconsistent(self) -> str | None:
        """Why this sweep cannot start, or None (the guide's conditions for a continuous sweep)."""
        if self.sweep_start >= self.sweep_stop:
            return "start wavelength not below stop"
        if self.sweep_mode == "CONT":
            if self.sweep_speed / self.sweep_step > 40e3:
                return "trigger frequency above 40 kHz"
            if self.expected_triggers() > 100001:
                return "more than 100001 triggers"
        return None

    def expected_triggers(self) -> int:
        span = self.sweep_stop - self.sweep_start
        per_sweep = int(math.floor(span / self.sweep_step + 1e-9)) + 1
        return per_sweep * self.sweep_cycles * (2 if self.sweep_repeat == "TWOW" else 1)

    @command("[:SOURce<n>]:WAVelength:SWEep:CHECkparams", query=True)
    def _check_params(self, arg: str, query: bool, n: str) -> str:
        self._slot(n)
        why = self._inconsistent()
        return '0,"OK"' if why is None else f'-1,"{why}"'

    @command("[:SOURce<n>]:WAVelength:SWEep:EXPectedtriggernum", query=True)
    def _expected(self, arg: str, query: bool, n: str) -> str:
        self._slot(n)
        return f"{self.expected_triggers():+d}" if self.sweep_mode == "CONT" else "+0"

    @command("[:SOURce<n>]:WAVelength:SWEep[:STATe]")
    def _sweep_state(self, arg: str, query: bool, n: str) -> str | None:
        self._slot(n)
        if query:
            running = self.plan is not None or self.armed or (self.sweep_mode == "MAN" and self.manual_step > 0)
            return "+1" if running else "+0"
        word = self._choice(arg, {"STOP": "STOP", "0": "STOP", "STAR": "STAR", "START": "STAR", "1": "STAR",
                                  "PAUS": "PAUS", "PAUSE": "PAUS", "CONT": "CONT", "CONTINUE": "CONT"},
                            "sweep state")
        now = self.world.clock.now()
        if word in ("STOP", "PAUS"):
            if self.plan is not None:
                self.setpoint = self.plan.value(now)
            self.paused = word == "PAUS" and self.plan is not None
            self.plan, self.armed, self.manual_step = None, False, 0
        elif word == "CONT":
            if self.paused:  # on from where the pause left the laser
                self.plan = plan_sweep(now, self.setpoint, self.sweep_stop, speed=self.sweep_speed)
                self.paused = False
        else:
            why = self._inconsistent()
            if why is not None:
                raise ScpiValueError(-221, f"sweep parameters inconsistent: {why}")
            if self.lambda_logging and (self.sweep_mode != "CONT" or self.trigger_out != "STF" or self.modulation):
                self.lambda_logging = False
                raise ScpiValueError(-221, "sweep parameters inconsistent: lambda logging needs a continuous "
                                           "sweep, TRIG:OUTP STF and modulation off")
            if self.sweep_mode == "MAN":
                self.setpoint, self.manual_step = self.sweep_start, 1
            elif self.trigger_in == "SWS":
                self.armed = True
            else:
                self._start(now)
        self._publish()
        return None

    def _start(self, now: float) -> None:
        self.armed = False
        step = self.sweep_step if self.sweep_mode == "STEP" else None
        self.plan = plan_sweep(now, self.sweep_start, self.sweep_stop, speed=self.sweep_speed, step=step,
                               two_way=self.sweep_repeat == "TWOW", dwell=self.sweep_dwell if step else 0.0,
                               cycles=self.sweep_cycles)
        if self.lambda_logging:
            k = int(math.floor((self.sweep_stop - self.sweep_start) / self.sweep_step + 1e-9))
            self.logged = self.sweep_start + self.sweep_step * np.arange(k + 1)
        self._publish()

    @command("[:SOURce<n>]:WAVelength:SWEep:SOFTtrigger", query=False)
    def _soft_trigger(self, arg: str, query: bool, n: str) -> None:
        self._slot(n)
        if self.armed:
            self._start(self.world.clock.now())
        elif self.sweep_mode == "MAN" and self.manual_step:
            target = self.sweep_start + self.manual_step * self.sweep_step
            if target > self.sweep_stop + 1e-15:
                self.manual_step = 0  # past the stop: the manual sweep is over
            else:
                self.setpoint, self.manual_step = target, self.manual_step + 1
            self._publish()
        else:
            raise ScpiValueError(-221, "no sweep waits for a trigger")

    @command("[:SOURce<n>]:READout:DATA", query=True)
    def _readout(self, arg: str, query: bool, n: str) -> bytes:
        self._slot(n)
        if arg.strip().upper() not in ("LLOG", "LLOGGING"):
            raise ScpiValueError(-224, f"READ:DATA? {arg.strip()!r}: LLOG (PMAX is not simulated)")
        return ieee_block(self.logged.astype("<f8").tobytes())

    @command("[:SOURce<n>]:READout:POINts", query=True)
    def _readout_points(self, arg: str, query: bool, n: str) -> str:
        self._slot(n)
        if arg.strip().upper() not in ("LLOG", "LLOGGING"):
            raise ScpiValueError(-224, f"READ:POIN? {arg.strip()!r}: LLOG")
        return f"{self.logged.size:+d}"

    # -- triggers ----------------------------------------------------------------------------------
    @command(":TRIGger<n>[:CHANnel<n>]:OUTPut")
    def _trigger_output(self, arg: str, query: bool, n: str, m: str | None) -> str | None:
        self._slot(n)
        if query:
            return self.trigger_out
        self.trigger_out = self._choice(arg, TRIGGER_OUTPUTS, "output trigger")
        return None

    @command(":TRIGger<n>[:CHANnel<n>]:INPut")
    def _trigger_input(self, arg: str, query: bool, n: str, m: str | None) -> str | None:
        self._slot(n)
        if query:
            return self.trigger_in
        self.trigger_in = self._choice(arg, TRIGGER_INPUTS, "input trigger")
        return None

    @command(":TRIGger:CONFiguration")
    def _trigger_configuration(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.trigger_config)
        self.trigger_config = self._choice(arg, TRIGGER_CONFIGS, "trigger configuration")
        return None

    # -- the mainframe ------------------------------------------------------------------------------
    @command(":SLOT<n>:IDN", query=True)
    def _slot_idn(self, arg: str, query: bool, n: str) -> str:
        self._slot(n)
        return f"Agilent Technologies,81600B,{self.module_serial},V4.1"

    @command(":SLOT<n>:EMPTy", query=True)
    def _slot_empty(self, arg: str, query: bool, n: str) -> str:
        k = int(n) if n else 0
        if not 0 <= k <= 4:
            raise ScpiValueError(-222, f"slot {k}")
        return "0" if k == self.slot else "1"

    def state(self) -> dict[str, Any]:
        return {"wavelength": self.wavelength, "power_w": self.power_w, "output": self.output,
                "sweeping": self.plan is not None}
