"""Simulated Keysight N7744A / N7745A multiport optical power meter (SCPI, socket 5025).

Same bytes as the instrument (see :mod:`hilt.drivers.keysight_n7744a`): NR3 readings in the
port's unit (W or dBm), ``:READ:POW:ALL:CSV?`` / ``:FETC:POW:ALL:CSV?`` answering every port on
one line, the SCPI error queue (-113 unknown header or a port that does not exist, -222 out of
range).

What the ports see: with ``system="chip"`` (the name of an ``mzi_chip`` world system) each reading
asks the chip for the powers at its outputs (``chip.meter_powers(name, ports)``: the chip's
detector gain, dark level and noise included); without a system, ``<name>.port_powers`` from the
world (an array of watts), or darkness.

Beyond the driver's commands (*N7744A/N7745A Programming Guide*, which follows the 8163/8164
power meter commands; **unverified** against the N77xx guide's own pages, the 816x guide's
TRIGger pages 208-214 were read):

* ``SENS<n>:POW:REF TOREF,<value>`` (dBm or W) / ``SENS<n>:POW:REF? TOREF`` and
  ``SENS<n>:POW:REF:STAT 0|1``: with the state on, readings are in dB relative to the reference;
  ``SENS<n>:CORR[:LOSS][:INP][:MAGN] <dB>`` is added to every reading in dB (*verify* the sign);
* logging (the data acquisition function): ``SENS<n>:FUNC:PAR:LOGG <points>,<averaging time>``,
  ``SENS<n>:FUNC:STAT LOGG,STAR|STOP``, ``SENS<n>:FUNC:STAT?`` (``LOGGING_STABILITY,PROGRESS`` /
  ``LOGGING_STABILITY,COMPLETE``, ``NONE,COMPLETE`` when idle), ``SENS<n>:FUNC:RES?`` the samples
  (W) as an IEEE 488.2 block of little-endian float32;
* triggers: ``TRIG<n>:INP IGN|SME|CME`` (ignore: logging samples every averaging time from its
  start; single measurement: one sample per trigger; complete measurement: the first trigger
  starts the logging), ``TRIG<n>:OUTP DIS|AVG|MEAS`` and ``TRIG:CONF`` kept, ``:TRIG 1|NODEA``
  the input trigger (``2|NODEB`` generates an output trigger: nothing is connected to it here);
* ``INIT<n>[:IMM]`` takes one reading, ``INIT<n>:CONT`` kept.

Logged samples are taken at their own simulated times: sample ``k`` of a free-running logging at
``start + (k + 1) x averaging time``, through ``chip.meter_powers(..., at=t)`` so a laser sweeping
meanwhile (``wavelength_fn``) is seen at the wavelength it had then; the heater voltages are those
of the moment the meter computes the sample (when a client next asks it anything).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hilt.sims.scpi import (
    ScpiInstrument,
    ScpiValueError,
    command,
    fmt,
    ieee_block,
    parse_bool,
    parse_number,
)

VARIANTS = {"N7744A": 4, "N7745A": 8, "N7744C": 4, "N7745C": 8}


class SimN7744A(ScpiInstrument):
    model = "keysight_n7744a"
    description = "Keysight N7744A/N7745A multiport optical power meter (SCPI, socket 5025)"
    transport = "tcp"
    default_port = 5025

    def __init__(self, *args: Any, variant: str = "N7744A", system: str | None = None,
                 serial: str = "MY00000001", **kwargs: Any) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant {variant!r}: expected one of {sorted(VARIANTS)}")
        self.variant = variant
        self.ports = VARIANTS[variant]
        self.system_name = system
        self.idn = f"Keysight Technologies,{variant},{serial},V1.1.0"
        super().__init__(*args, **kwargs)
        if system is not None:
            chip = self.world.system(system)
            if chip is not None and hasattr(chip, "register_meter"):
                chip.register_meter(self.name, self.ports)

    def reset(self) -> None:
        self.wavelength = [1550e-9] * self.ports
        self.atime = [1e-4] * self.ports
        self.unit_w = [False] * self.ports
        self.range_dbm = [0.0] * self.ports
        self.auto = [True] * self.ports
        self.last = np.zeros(self.ports)
        self.reference_dbm = [0.0] * self.ports
        self.relative = [False] * self.ports
        self.correction_db = [0.0] * self.ports
        self.trigger_in = ["IGN"] * self.ports
        self.trigger_out = ["DIS"] * self.ports
        self.trigger_config = 1
        self.continuous = [False] * self.ports
        self.log_points = [100] * self.ports
        self.log_atime = [1e-4] * self.ports
        self.logs: list[_Logging | None] = [None] * self.ports

    # -- what arrives -----------------------------------------------------------------------
    def measure(self, at: float | None = None) -> np.ndarray:
        """One reading of every port, in watts (at simulated time ``at``, now by default)."""
        chip = self.world.system(self.system_name) if self.system_name else None
        if chip is not None:
            powers = np.asarray(chip.meter_powers(self.name, self.ports, at=at), dtype=float)
        else:
            given = self.world.get(f"{self.name}.port_powers")
            powers = np.zeros(self.ports) if given is None else np.asarray(given, dtype=float)[: self.ports]
            powers = np.pad(powers, (0, self.ports - powers.size))
        self.last = powers
        self.world.set(f"{self.name}.readings", powers.copy())
        return powers

    def _show(self, k: int, watts: float) -> str:
        """A reading as the port shows it: its unit, the correction, relative to the reference."""
        watts *= 10 ** (self.correction_db[k] / 10)
        dbm = 10 * math.log10(watts / 1e-3) if watts > 0 else -200.0
        if self.relative[k]:
            return fmt(dbm - self.reference_dbm[k])  # dB
        return fmt(watts) if self.unit_w[k] else fmt(dbm)

    def _port(self, n: str) -> int:
        k = int(n) - 1 if n else 0
        if not 0 <= k < self.ports:
            raise ScpiValueError(-113, f"no port {n}")
        return k

    @staticmethod
    def _channel(m: str | None) -> None:
        if m not in (None, "", "1"):
            raise ScpiValueError(-113, f"no channel {m}")

    # -- commands ---------------------------------------------------------------------------
    @command(":SENSe<n>[:CHANnel<n>]:POWer:WAVelength")
    def _wavelength(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.wavelength[k])
        self.wavelength[k] = parse_number(arg, "M", minimum=1250e-9, maximum=1650e-9)
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:ATIMe")
    def _atime(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.atime[k])
        self.atime[k] = parse_number(arg, "S", minimum=1e-6, maximum=10.0)
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:UNIT")
    def _unit(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return "+1" if self.unit_w[k] else "+0"
        word = arg.strip().upper()
        if word not in ("0", "1", "DBM", "W", "WATT"):
            raise ScpiValueError(-224, arg)
        self.unit_w[k] = word in ("1", "W", "WATT")
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:RANGe[:UPPer]")
    def _range(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.range_dbm[k])
        self.range_dbm[k] = parse_number(arg, "DBM", minimum=-30.0, maximum=10.0)
        self.auto[k] = False
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:RANGe:AUTO")
    def _auto(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return "1" if self.auto[k] else "0"
        self.auto[k] = parse_bool(arg)
        return None

    @command(":READ<n>[:CHANnel<n>]:POWer", query=True)
    @command(":FETCh<n>[:CHANnel<n>]:POWer", query=True)
    def _one(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        return self._show(k, float(self.measure()[k]))

    @command(":READ[<n>]:POWer:ALL:CSV", query=True)
    @command(":FETCh[<n>]:POWer:ALL:CSV", query=True)
    def _all(self, arg: str, query: bool, n: str) -> str | None:
        powers = self.measure()
        return ",".join(self._show(k, float(p)) for k, p in enumerate(powers))

    # -- reference and correction -------------------------------------------------------------
    @command(":SENSe<n>[:CHANnel<n>]:POWer:REFerence")
    def _reference(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        mode, _, value = arg.partition(",")
        if mode.strip().upper() not in ("TOREF", "TOREFERENCE"):
            raise ScpiValueError(-224, f"reference mode {mode.strip()!r}: TOREF (TOMODule is not simulated)")
        if query:
            return fmt(self.reference_dbm[k])
        text = value.strip().upper()
        if text.endswith("DBM"):
            dbm = parse_number(text[:-3], minimum=-200.0, maximum=200.0)
        elif text.endswith("W"):
            watts = parse_number(text, "W", minimum=1e-15, maximum=1.0)
            dbm = 10 * math.log10(watts / 1e-3)
        else:
            dbm = parse_number(text, minimum=-200.0, maximum=200.0)
        self.reference_dbm[k] = dbm
        return None

    @command(":SENSe<n>[:CHANnel<n>]:POWer:REFerence:STATe")
    def _reference_state(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return "1" if self.relative[k] else "0"
        self.relative[k] = parse_bool(arg)
        return None

    @command(":SENSe<n>[:CHANnel<n>]:CORRection[:LOSS][:INPut][:MAGNitude]")
    def _correction(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return fmt(self.correction_db[k])
        self.correction_db[k] = parse_number(arg, minimum=-200.0, maximum=200.0)
        return None

    # -- logging ------------------------------------------------------------------------------
    @command(":SENSe<n>[:CHANnel<n>]:FUNCtion:PARameter:LOGGing")
    def _logging_parameters(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return f"{self.log_points[k]:+d},{fmt(self.log_atime[k])}"
        parts = arg.split(",")
        if len(parts) != 2:
            raise ScpiValueError(-109, "LOGG takes <points>,<averaging time>")
        points = parse_number(parts[0], minimum=1, maximum=1_000_000)
        if points != int(points):
            raise ScpiValueError(-224, f"{points:g} points: a whole number")
        self.log_points[k] = int(points)
        self.log_atime[k] = parse_number(parts[1], "S", minimum=1e-6, maximum=10.0)
        return None

    @command(":SENSe<n>[:CHANnel<n>]:FUNCtion:STATe")
    def _logging_state(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        log = self._advance(k)
        if query:
            if log is None:
                return "NONE,COMPLETE"
            return f"LOGGING_STABILITY,{'COMPLETE' if log.complete else 'PROGRESS'}"
        function, _, action = (p.strip().upper() for p in arg.partition(","))
        if function not in ("LOGG", "LOGGING"):
            raise ScpiValueError(-224, f"function {function!r}: LOGG (STABility and MINMax are not simulated)")
        if action in ("STAR", "START"):
            free = self.trigger_in[k] == "IGN"
            self.logs[k] = _Logging(self.log_points[k], self.log_atime[k],
                                    self.world.clock.now() if free else None, self.trigger_in[k])
        elif action == "STOP":
            if log is not None:
                log.points = len(log.samples)  # what was taken so far is the result
        else:
            raise ScpiValueError(-224, f"action {action!r}: STAR or STOP")
        return None

    @command(":SENSe<n>[:CHANnel<n>]:FUNCtion:RESult", query=True)
    def _logging_result(self, arg: str, query: bool, n: str, m: str) -> bytes:
        k = self._port(n)
        self._channel(m)
        log = self._advance(k)
        samples = np.asarray(log.samples if log is not None else [], dtype="<f4")
        return ieee_block(samples.tobytes())

    def _advance(self, k: int) -> _Logging | None:
        """Take the free-running samples of port ``k``'s logging that are due by now."""
        log = self.logs[k]
        if log is not None and log.t0 is not None:
            now = self.world.clock.now()
            while not log.complete and log.t0 + (len(log.samples) + 1) * log.atime <= now + 1e-12:
                t = log.t0 + (len(log.samples) + 1) * log.atime
                log.samples.append(float(self.measure(at=t)[k]))
        return log

    # -- triggers -----------------------------------------------------------------------------
    @command(":TRIGger<n>[:CHANnel<n>]:INPut")
    def _trigger_input(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return self.trigger_in[k]
        modes = {"IGN": "IGN", "IGNORE": "IGN", "SME": "SME", "SMEASURE": "SME", "CME": "CME", "CMEASURE": "CME"}
        word = arg.strip().upper()
        if word not in modes:
            raise ScpiValueError(-224, f"input trigger {arg.strip()!r}: IGN, SME or CME")
        self.trigger_in[k] = modes[word]
        return None

    @command(":TRIGger<n>[:CHANnel<n>]:OUTPut")
    def _trigger_output(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return self.trigger_out[k]
        modes = {"DIS": "DIS", "DISABLED": "DIS", "AVG": "AVG", "AVGOVER": "AVG", "MEAS": "MEAS", "MEASURE": "MEAS"}
        word = arg.strip().upper()
        if word not in modes:
            raise ScpiValueError(-224, f"output trigger {arg.strip()!r}: DIS, AVG or MEAS")
        self.trigger_out[k] = modes[word]
        return None

    @command(":TRIGger:CONFiguration")
    def _trigger_configuration(self, arg: str, query: bool) -> str | None:
        if query:
            return str(self.trigger_config)
        configs = {"DIS": 0, "DISABLED": 0, "0": 0, "DEF": 1, "DEFAULT": 1, "1": 1, "PASS": 2,
                   "PASSTHROUGH": 2, "2": 2, "LOOP": 3, "LOOPBACK": 3, "3": 3}
        word = arg.strip().upper()
        if word not in configs:
            raise ScpiValueError(-224, f"trigger configuration {arg.strip()!r}")
        self.trigger_config = configs[word]
        return None

    @command(":TRIGger", query=False)
    def _trigger(self, arg: str, query: bool) -> None:
        """A hardware trigger: ``1``/``NODEA`` as at the input connector (every logging port in
        SME takes a sample, a CME logging starts), ``2``/``NODEB`` at the output connector."""
        node = arg.strip().upper()
        if node in ("2", "NODEB"):
            return
        if node not in ("1", "NODEA"):
            raise ScpiValueError(-224, f"trigger node {arg.strip()!r}: NODEA or NODEB")
        if self.trigger_config == 0:
            return  # the manual: no effect while triggering is disabled
        now = self.world.clock.now()
        readings = None
        for k, log in enumerate(self.logs):
            self._advance(k)
            if log is None or log.complete:
                continue
            if log.mode == "SME":
                readings = self.measure(at=now) if readings is None else readings
                log.samples.append(float(readings[k]))
            elif log.mode == "CME" and log.t0 is None:
                log.t0 = now

    @command(":INITiate<n>[:CHANnel<n>][:IMMediate]", query=False)
    def _initiate(self, arg: str, query: bool, n: str, m: str) -> None:
        self._port(n)
        self._channel(m)
        self.measure()

    @command(":INITiate<n>[:CHANnel<n>]:CONTinuous")
    def _continuous(self, arg: str, query: bool, n: str, m: str) -> str | None:
        k = self._port(n)
        self._channel(m)
        if query:
            return "1" if self.continuous[k] else "0"
        self.continuous[k] = parse_bool(arg)
        return None

    def state(self) -> dict[str, Any]:
        return {"variant": self.variant, "last": self.last.tolist()}


@dataclass
class _Logging:
    """One port's logging run: ``t0`` None until a trigger starts it (SME: never free-running)."""

    points: int
    atime: float
    t0: float | None
    mode: str
    samples: list[float] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.samples) >= self.points
