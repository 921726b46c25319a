"""Simulated QDevil QDAC-II: 24 channels, +-10 V, SCPI on a raw socket (LAN port 5025).

Same bytes as the instrument (see :mod:`hilt.drivers.qdevil_qdac2`): ``sour<n>:volt <V>``,
``sour<n>:volt?`` in plain decimal, compound messages, the SCPI error queue (-222 "Data out of
range" for more than 10 V, -113 for an unknown header or a channel outside 1..24). Every change
publishes the 24 voltages as a numpy array under ``<name>.voltages``, which the MZI chip reads,
and ``<name>.voltages_fn`` (``fn(t)``: the 24 output voltages at simulated time ``t``), which a
ramp or a sweep moves. ``read<n>?`` answers the channel's current (A) through its heater
(``load_ohm``, 1 kOhm).

Beyond the driver's commands (the *QDAC-II* SCPI command reference as QDevil's QCoDeS driver
spells it; replies not verified on an instrument):

* output: ``sour<n>:rang LOW|HIGH`` (low range +-2 V: a level outside it is refused -222),
  ``sour<n>:filt DC|MED|HIGH``, ``sour<n>:volt:slew <V/s>|INF`` (a fixed level ramps to its new
  value at that rate in simulated time), ``sour<n>:volt:last?`` (the output now, mid-ramp or
  mid-sweep), ``sour<n>:volt:trig`` (the level a triggered fixed-mode generator goes to);
* DC generators: ``sour<n>:volt:mode FIX|SWE|LIST``; sweeps ``sour<n>:swe:star|stop|poin|dwel|
  dir UP|DOWN|gen STEP|ANAL|coun`` (``-1``: forever), ``swe:time?``, ``swe:ncl?`` (cycles left);
  lists ``sour<n>:list:volt v1,v2,...``, ``list:volt:app``, ``list:volt?``, ``list:poin?``,
  ``list:dwel``, ``list:dir``, ``list:coun``, ``list:tmod AUTO|STEP`` (STEP: one point per
  trigger), ``list:ncl?``; ``sour<n>:dc:trig:sour IMM|BUS|HOLD|INT1..14|EXT1..4``,
  ``sour<n>:dc:init`` (runs now with IMM, else waits for its trigger), ``dc:init:cont ON|OFF``
  (re-arm after a run), ``dc:abor`` (stop where the output is), ``dc:del`` (seconds from the
  trigger to the first point);
* triggers: ``*TRG`` fires the bus trigger, ``tint <n>`` internal trigger ``n``; external
  triggers have nothing connected to them here (an EXT source waits for ever);
* current sensing: ``sens<n>:rang LOW|HIGH``, ``nplc`` (a mains cycle taken as 20 ms,
  *verify*), ``aper`` (s, one measurement's integration), ``del``, ``coun``,
  ``trig:sour IMM|BUS|HOLD|INTn|EXTn``, ``init`` (``coun`` readings after the trigger),
  ``init:cont`` (with a BUS or INT source the measurement re-arms for the next trigger), ``abor``; ``data:rem?`` (every buffered reading, oldest first, comma separated,
  and empties the buffer), ``data:last?``, ``data:poin?``, ``ncl?`` (measurements left);
  ``fetc<n>?`` the last reading. Readings are taken at their own simulated times (``del`` then one
  aperture each after the trigger) from the channel's voltage then over its load.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hilt.sims.scpi import SCPI_ERRORS, ScpiInstrument, ScpiValueError, command, parse_number
from hilt.sims.sweeps import SweepPlan

SCPI_ERRORS.setdefault(-221, "Settings conflict")

N_CHANNELS = 24
RANGES = {"LOW": 2.0, "HIGH": 10.0}
_TRIGGER = re.compile(r"^(IMM|IMMEDIATE|BUS|HOLD|INT(?:ERNAL)?(\d+)|EXT(?:ERNAL)?(\d+))$")


def _trigger_source(arg: str) -> str:
    """A trigger source argument in its short form (``IMM``, ``BUS``, ``HOLD``, ``INT3``, ``EXT1``)."""
    m = _TRIGGER.match(arg.strip().upper())
    if m is None:
        raise ScpiValueError(-224, f"trigger source {arg.strip()!r}: IMM, BUS, HOLD, INT1..14 or EXT1..4")
    if m.group(2) is not None:
        if not 1 <= int(m.group(2)) <= 14:
            raise ScpiValueError(-222, f"internal trigger {m.group(2)}: 1..14")
        return f"INT{int(m.group(2))}"
    if m.group(3) is not None:
        if not 1 <= int(m.group(3)) <= 4:
            raise ScpiValueError(-222, f"external trigger {m.group(3)}: 1..4")
        return f"EXT{int(m.group(3))}"
    return m.group(1)[:4] if m.group(1).startswith("IMM") else m.group(1)


def _staircase(t0: float, values: list[float], dwell: float, cycles: int, ramp: bool) -> SweepPlan:
    """Each value held ``dwell`` seconds (or, ``ramp``, a straight line through them over the same
    time), ``cycles`` times (``-1``: for ever)."""
    times: list[float] = []
    out: list[float] = []
    t = 0.0
    if ramp:
        times, out = [0.0, dwell * len(values)], [values[0], values[-1]]
        t = dwell * len(values)
    else:
        for v in values:
            times += [t, t + dwell]
            out += [v, v]
            t += dwell
    plan_times, plan_values, ends = [], [], []
    for c in range(1 if cycles < 0 else cycles):
        plan_times += [c * t + x for x in times]
        plan_values += out
        ends.append((c + 1) * t)
    return SweepPlan(t0, np.array(plan_times), np.array(plan_values), np.array(ends), cycles < 0)


@dataclass
class _Channel:
    """One channel's output and generator settings (defaults as after ``*RST``)."""

    level: float = 0.0  # the fixed-mode setpoint
    range: str = "HIGH"
    filter: str = "HIGH"
    slew: float = float("inf")
    trig_level: float = 0.0
    mode: str = "FIX"
    plan: SweepPlan | None = None  # the output's trajectory while it ramps or runs a generator
    hold: float = 0.0  # the output when there is no plan
    sweep: dict[str, Any] = field(default_factory=lambda: {"STAR": 0.0, "STOP": 1.0, "POIN": 2, "DWEL": 1e-3,
                                                           "DIR": "UP", "GEN": "STEP", "COUN": 1})
    list_values: list[float] = field(default_factory=lambda: [0.0])
    list_settings: dict[str, Any] = field(default_factory=lambda: {"DWEL": 1e-3, "DIR": "UP", "COUN": 1,
                                                                   "TMOD": "AUTO"})
    dc_source: str = "IMM"
    dc_cont: bool = False
    dc_delay: float = 0.0
    armed: bool = False
    list_index: int = -1  # a stepped list: the point on the output
    # sensing
    s_range: str = "HIGH"
    nplc: float = 1.0
    aperture: float = 0.02
    s_delay: float = 0.0
    s_count: int = 1
    s_source: str = "IMM"
    s_cont: bool = False
    s_armed: bool = False
    s_times: list[float] = field(default_factory=list)  # measurements scheduled, not yet taken
    readings: list[float] = field(default_factory=list)
    last_reading: float = 0.0

    def output(self, t: float) -> float:
        if self.plan is None:
            return self.hold
        return self.plan.value(t)


def _setting(table: str, key: str, kind: str) -> Callable[..., str | None]:
    """A handler for one sweep or list setting (``table``: ``sweep`` or ``list_settings``)."""

    def handler(self: Any, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        settings = getattr(c, table)
        if query:
            value = settings[key]
            return value if isinstance(value, str) else f"{value:.9g}"
        if kind == "volt":
            settings[key] = self._level(c, arg)
        elif kind == "time":
            settings[key] = parse_number(arg, "S", minimum=1e-6, maximum=3600.0)
        elif kind == "points":
            settings[key] = int(parse_number(arg, minimum=2, maximum=1_000_000))
        elif kind == "count":
            value = int(parse_number(arg, minimum=-1, maximum=1_000_000_000))
            if value == 0:
                raise ScpiValueError(-222, "count 0: at least 1, or -1 for ever")
            settings[key] = value
        else:
            choices = {"dir": ("UP", "DOWN"), "gen": ("STEP", "ANAL"), "tmod": ("AUTO", "STEP")}[kind]
            word = arg.strip().upper()
            word = {"STEPPED": "STEP", "ANALOG": "ANAL"}.get(word, word)
            if word not in choices:
                raise ScpiValueError(-224, f"{arg.strip()!r}: {' or '.join(choices)}")
            settings[key] = word
        return None

    return handler


class SimQDac2(ScpiInstrument):
    model = "qdevil_qdac2"
    description = "QDevil QDAC-II 24-channel +-10 V DAC (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, serial: str = "00042", load_ohm: float = 1000.0, **kwargs: Any) -> None:
        self.idn = f"QDevil,QDAC-II,{serial},13-1.57"
        self.default_load = float(load_ohm)
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        self.ch = [_Channel() for _ in range(N_CHANNELS)]
        self.mode = ["FIX"] * N_CHANNELS  # kept for state(); the channels hold the truth
        self._publish()

    # -- world --------------------------------------------------------------------------------
    @property
    def v(self) -> np.ndarray:
        """The 24 output voltages now."""
        return self.voltages_at(self.world.clock.now())

    def voltages_at(self, t: float) -> np.ndarray:
        return np.array([c.output(t) for c in self.ch])

    def _publish(self) -> None:
        self.world.set(f"{self.name}.voltages_fn", self.voltages_at)
        self.world.set(f"{self.name}.voltages", self.v.copy())

    def _loads(self) -> np.ndarray:
        load = self.world.get(f"{self.name}.load_ohm", self.default_load)
        return np.broadcast_to(np.asarray(load, float), (N_CHANNELS,))

    def execute(self, text: str, session: Any) -> str | bytes | None:
        # Finished runs settle (the output holds their last value; a continuous one re-arms) and
        # sensing takes the readings that are due, before the command sees the channel.
        now = self.world.clock.now()
        for k, c in enumerate(self.ch):
            if c.plan is not None and c.plan.done(now):
                c.hold, c.plan = float(c.plan.values[-1]), None
                if c.dc_cont and c.mode != "FIX":
                    c.armed = True
                    if c.dc_source == "IMM":
                        self._run(k, now)
            self._take_readings(k, now)
        self._publish()
        return super().execute(text, session)

    @staticmethod
    def _channel(suffix: str | None) -> int:
        if not suffix or not 1 <= int(suffix) <= N_CHANNELS:
            raise ScpiValueError(-113, f"channel {suffix or '(none)'}")
        return int(suffix) - 1

    def _level(self, c: _Channel, arg: str) -> float:
        limit = RANGES[c.range]
        return parse_number(arg, "V", minimum=-limit, maximum=limit)

    # -- fixed output -------------------------------------------------------------------------
    @command("[:SOURce<n>]:VOLTage[:LEVel][:IMMediate][:AMPLitude]")
    def _voltage(self, arg: str, query: bool, n: str) -> str | None:
        k = self._channel(n)
        c = self.ch[k]
        if query:
            return f"{c.level:.9g}"
        c.level = self._level(c, arg)
        if c.mode == "FIX":
            self._ramp_to(k, c.level)
        self._publish()
        return None

    def _ramp_to(self, k: int, target: float) -> None:
        """The output goes to ``target`` at the channel's slew rate (at once when infinite)."""
        c, now = self.ch[k], self.world.clock.now()
        start = c.output(now)
        if np.isinf(c.slew) or start == target:
            c.plan, c.hold = None, target
            return
        duration = abs(target - start) / c.slew
        c.plan = SweepPlan(now, np.array([0.0, duration]), np.array([start, target]), np.array([duration]), False)

    @command("[:SOURce<n>]:VOLTage:LAST", query=True)
    def _voltage_now(self, arg: str, query: bool, n: str) -> str:
        k = self._channel(n)
        return f"{self.ch[k].output(self.world.clock.now()):.9g}"

    @command("[:SOURce<n>]:VOLTage:SLEW")
    def _slew(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return "9.9e+37" if np.isinf(c.slew) else f"{c.slew:.9g}"
        c.slew = float("inf") if arg.strip().upper() in ("INF", "MAX") else \
            parse_number(arg, minimum=0.2, maximum=2e7)
        return None

    @command("[:SOURce<n>]:VOLTage:TRIGger")
    def _trig_level(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return f"{c.trig_level:.9g}"
        c.trig_level = self._level(c, arg)
        return None

    @command("[:SOURce<n>]:VOLTage:MODE")
    def _mode(self, arg: str, query: bool, n: str) -> str | None:
        k = self._channel(n)
        c = self.ch[k]
        if query:
            return c.mode
        word = arg.strip().upper()
        modes = {"FIX": "FIX", "FIXED": "FIX", "SWE": "SWE", "SWEEP": "SWE", "LIST": "LIST"}
        if word not in modes:
            raise ScpiValueError(-224, arg)
        c.mode = self.mode[k] = modes[word]
        return None

    @command("[:SOURce<n>]:RANGe")
    def _range(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return c.range
        word = arg.strip().upper()
        if word not in RANGES:
            raise ScpiValueError(-224, f"range {arg.strip()!r}: LOW or HIGH")
        if abs(c.output(self.world.clock.now())) > RANGES[word]:
            raise ScpiValueError(-221, f"the output is outside the {word} range")
        c.range = word
        return None

    @command("[:SOURce<n>]:FILTer")
    def _filter(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return c.filter
        word = arg.strip().upper()
        if word not in ("DC", "MED", "HIGH"):
            raise ScpiValueError(-224, f"filter {arg.strip()!r}: DC, MED or HIGH")
        c.filter = word
        return None

    # -- sweeps and lists ---------------------------------------------------------------------
    _sweep_start = command("[:SOURce<n>]:SWEep:STARt")(_setting("sweep", "STAR", "volt"))
    _sweep_stop = command("[:SOURce<n>]:SWEep:STOP")(_setting("sweep", "STOP", "volt"))
    _sweep_points = command("[:SOURce<n>]:SWEep:POINts")(_setting("sweep", "POIN", "points"))
    _sweep_dwell = command("[:SOURce<n>]:SWEep:DWELl")(_setting("sweep", "DWEL", "time"))
    _sweep_direction = command("[:SOURce<n>]:SWEep:DIRection")(_setting("sweep", "DIR", "dir"))
    _sweep_generation = command("[:SOURce<n>]:SWEep:GENeration")(_setting("sweep", "GEN", "gen"))
    _sweep_count = command("[:SOURce<n>]:SWEep:COUNt")(_setting("sweep", "COUN", "count"))
    _list_dwell = command("[:SOURce<n>]:LIST:DWELl")(_setting("list_settings", "DWEL", "time"))
    _list_direction = command("[:SOURce<n>]:LIST:DIRection")(_setting("list_settings", "DIR", "dir"))
    _list_count = command("[:SOURce<n>]:LIST:COUNt")(_setting("list_settings", "COUN", "count"))
    _list_trigger_mode = command("[:SOURce<n>]:LIST:TMODe")(_setting("list_settings", "TMOD", "tmod"))

    @command("[:SOURce<n>]:SWEep:TIME", query=True)
    def _sweep_time(self, arg: str, query: bool, n: str) -> str:
        s = self.ch[self._channel(n)].sweep
        return f"{s['POIN'] * s['DWEL']:.9g}"

    @command("[:SOURce<n>]:SWEep:NCLeft", query=True)
    @command("[:SOURce<n>]:LIST:NCLeft", query=True)
    def _cycles_left(self, arg: str, query: bool, n: str) -> str:
        c = self.ch[self._channel(n)]
        if c.plan is None or c.mode == "FIX":
            return "0"
        if c.plan.repeat:
            return "-1"
        return str(int(c.plan.sweep_ends.size - c.plan.sweeps_done(self.world.clock.now())))

    @command("[:SOURce<n>]:LIST:VOLTage")
    def _list_voltages(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return ",".join(f"{v:.9g}" for v in c.list_values)
        c.list_values = self._values(c, arg)
        return None

    @command("[:SOURce<n>]:LIST:VOLTage:APPend", query=False)
    def _list_append(self, arg: str, query: bool, n: str) -> None:
        c = self.ch[self._channel(n)]
        c.list_values = c.list_values + self._values(c, arg)

    def _values(self, c: _Channel, arg: str) -> list[float]:
        parts = [p for p in arg.split(",") if p.strip()]
        if not parts:
            raise ScpiValueError(-109, "a list of voltages")
        if len(parts) > 65536:
            raise ScpiValueError(-222, "at most 65536 points")
        return [self._level(c, p) for p in parts]

    @command("[:SOURce<n>]:LIST:POINts", query=True)
    def _list_points(self, arg: str, query: bool, n: str) -> str:
        return str(len(self.ch[self._channel(n)].list_values))

    # -- DC generator control -----------------------------------------------------------------
    @command("[:SOURce<n>]:DC:TRIGger:SOURce")
    def _dc_source(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return c.dc_source
        c.dc_source = _trigger_source(arg)
        return None

    @command("[:SOURce<n>]:DC:INITiate:CONTinuous")
    def _dc_continuous(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return "1" if c.dc_cont else "0"
        c.dc_cont = self._on_off(arg)
        return None

    @command("[:SOURce<n>]:DC:DELay")
    def _dc_delay(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return f"{c.dc_delay:.9g}"
        c.dc_delay = parse_number(arg, "S", minimum=0.0, maximum=3600.0)
        return None

    @command("[:SOURce<n>]:DC:INITiate[:IMMediate]", query=False)
    def _dc_init(self, arg: str, query: bool, n: str) -> None:
        k = self._channel(n)
        c = self.ch[k]
        c.armed, c.list_index = True, -1
        if c.dc_source == "IMM":
            self._run(k, self.world.clock.now())

    @command("[:SOURce<n>]:DC:ABORt", query=False)
    def _dc_abort(self, arg: str, query: bool, n: str) -> None:
        c = self.ch[self._channel(n)]
        c.hold, c.plan, c.armed = c.output(self.world.clock.now()), None, False

    def _run(self, k: int, t: float) -> None:
        """Channel ``k``'s armed generator is triggered at ``t``."""
        c = self.ch[k]
        t0 = t + c.dc_delay
        if c.mode == "FIX":
            c.armed = c.dc_cont
            c.level = c.trig_level
            self._ramp_to(k, c.trig_level)
            return
        if c.mode == "LIST" and c.list_settings["TMOD"] == "STEP":
            values = c.list_values[::-1] if c.list_settings["DIR"] == "DOWN" else c.list_values
            c.list_index = (c.list_index + 1) % len(values)
            c.plan, c.hold = None, values[c.list_index]
            return  # stays armed: every trigger is the next point
        c.armed = False
        if c.mode == "SWE":
            s = c.sweep
            values = list(np.linspace(s["STAR"], s["STOP"], int(s["POIN"])))
            if s["DIR"] == "DOWN":
                values = values[::-1]
            c.plan = _staircase(t0, values, s["DWEL"], int(s["COUN"]), ramp=s["GEN"] == "ANAL")
        else:
            ls = c.list_settings
            values = c.list_values[::-1] if ls["DIR"] == "DOWN" else c.list_values
            c.plan = _staircase(t0, values, ls["DWEL"], int(ls["COUN"]), ramp=False)
        if c.dc_delay > 0:  # the output waits where it is until the first point
            here = c.output(t)
            c.plan = SweepPlan(t, np.concatenate([[0.0], c.plan.times + c.dc_delay]),
                               np.concatenate([[here], c.plan.values]), c.plan.sweep_ends + c.dc_delay,
                               c.plan.repeat)

    def _fire(self, source: str) -> None:
        now = self.world.clock.now()
        for k, c in enumerate(self.ch):
            if c.armed and c.dc_source == source:
                self._run(k, now)
            if c.s_armed and c.s_source == source:
                self._start_sensing(k, now)
        self._publish()

    @command("*TRG", query=False)
    def _bus_trigger(self, arg: str, query: bool) -> None:
        self._fire("BUS")

    @command(":TINT", query=False)
    def _internal_trigger(self, arg: str, query: bool) -> None:
        value = parse_number(arg, minimum=1, maximum=14)
        self._fire(f"INT{int(value)}")

    @staticmethod
    def _on_off(arg: str) -> bool:
        word = arg.strip().upper()
        if word in ("1", "ON"):
            return True
        if word in ("0", "OFF"):
            return False
        raise ScpiValueError(-224, f"{arg.strip()!r}: ON or OFF")

    # -- current sensing ----------------------------------------------------------------------
    def current_at(self, k: int, t: float) -> float:
        return float(self.ch[k].output(t) / self._loads()[k])

    @command("READ<n>", query=True)
    def _read_current(self, arg: str, query: bool, n: str) -> str:
        """An immediate current measurement (A): the voltage over the heater's load
        (``<name>.load_ohm`` in the world, else the ``load_ohm`` option)."""
        k = self._channel(n)
        value = self.current_at(k, self.world.clock.now())
        self.ch[k].last_reading = value
        return f"{value:.9g}"

    @command("FETCh<n>", query=True)
    @command("[:SENSe<n>]:DATA:LAST", query=True)
    def _last_reading(self, arg: str, query: bool, n: str) -> str:
        return f"{self.ch[self._channel(n)].last_reading:.9g}"

    @command("[:SENSe<n>]:RANGe")
    def _sense_range(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return c.s_range
        word = arg.strip().upper()
        if word not in ("LOW", "HIGH"):
            raise ScpiValueError(-224, f"range {arg.strip()!r}: LOW or HIGH")
        c.s_range = word
        return None

    @command("[:SENSe<n>]:NPLCycles")
    def _nplc(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return f"{c.nplc:.9g}"
        c.nplc = parse_number(arg, minimum=0.3, maximum=100.0)
        c.aperture = c.nplc / 50.0  # 50 Hz mains (*verify*: the unit's line frequency)
        return None

    @command("[:SENSe<n>]:APERture")
    def _aperture(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return f"{c.aperture:.9g}"
        c.aperture = parse_number(arg, "S", minimum=0.3e-3, maximum=2.0)
        c.nplc = c.aperture * 50.0
        return None

    @command("[:SENSe<n>]:DELay")
    def _sense_delay(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return f"{c.s_delay:.9g}"
        c.s_delay = parse_number(arg, "S", minimum=0.0, maximum=3600.0)
        return None

    @command("[:SENSe<n>]:COUNt")
    def _sense_count(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return str(c.s_count)
        value = parse_number(arg, minimum=1, maximum=1_000_000)
        c.s_count = int(value)
        return None

    @command("[:SENSe<n>]:TRIGger:SOURce")
    def _sense_source(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return c.s_source
        c.s_source = _trigger_source(arg)
        return None

    @command("[:SENSe<n>]:INITiate:CONTinuous")
    def _sense_continuous(self, arg: str, query: bool, n: str) -> str | None:
        c = self.ch[self._channel(n)]
        if query:
            return "1" if c.s_cont else "0"
        c.s_cont = self._on_off(arg)
        return None

    @command("[:SENSe<n>]:INITiate[:IMMediate]", query=False)
    def _sense_init(self, arg: str, query: bool, n: str) -> None:
        k = self._channel(n)
        c = self.ch[k]
        c.s_armed = True
        if c.s_source == "IMM":
            self._start_sensing(k, self.world.clock.now())

    @command("[:SENSe<n>]:ABORt", query=False)
    def _sense_abort(self, arg: str, query: bool, n: str) -> None:
        c = self.ch[self._channel(n)]
        c.s_armed, c.s_times = False, []

    def _start_sensing(self, k: int, t: float) -> None:
        c = self.ch[k]
        c.s_armed = c.s_cont
        c.s_times = [t + c.s_delay + (i + 1) * c.aperture for i in range(c.s_count)]

    def _take_readings(self, k: int, now: float) -> None:
        c = self.ch[k]
        while c.s_times and c.s_times[0] <= now + 1e-12:
            value = self.current_at(k, c.s_times.pop(0))
            c.readings.append(value)
            c.last_reading = value

    @command("[:SENSe<n>]:DATA:REMove", query=True)
    def _remove(self, arg: str, query: bool, n: str) -> str:
        c = self.ch[self._channel(n)]
        values, c.readings = c.readings, []
        return ",".join(f"{v:.9g}" for v in values)

    @command("[:SENSe<n>]:DATA:POINts", query=True)
    def _points(self, arg: str, query: bool, n: str) -> str:
        return str(len(self.ch[self._channel(n)].readings))

    @command("[:SENSe<n>]:NCLeft", query=True)
    def _sense_left(self, arg: str, query: bool, n: str) -> str:
        return str(len(self.ch[self._channel(n)].s_times))

    def state(self) -> dict[str, Any]:
        return {"voltages": self.v.tolist()}
