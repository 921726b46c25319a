"""The MZI chip of a simulated photonics bench: laser -> chip -> power-meter ports.

A world system (``kind: mzi_chip``) joining three kinds of simulators:

* heater drivers (Qontrol, QDAC-II, ...) publish their channel voltages under
  ``<driver>.voltages``; the chip concatenates the drivers named in ``heaters`` and maps channel
  ``i`` to heater ``i`` of the mesh in :class:`~hilt.sims.physics.MZIMesh` order (theta of every
  MZI, then phi of every MZI, then the output phase shifters: 2 * 28 + 8 = 64 heaters for an
  8-mode Clements mesh); channels beyond the mesh are not connected;
* the laser publishes ``<laser>.wavelength`` (m), ``<laser>.power_w`` (W) and ``<laser>.output``
  (and ``<laser>.wavelength_fn``, the wavelength at a simulated time, while it can sweep);
  light enters through a grating coupler (Gaussian passband around ``center_wavelength``, FWHM
  ``bandwidth``, plus ``coupling_loss_db``) into ``input_port`` (an index, ``"uniform"``, or a
  vector of amplitudes), unless an input modulator publishes ``<chip>.input_amplitudes``;
* power meters read :meth:`MZIChip.meter_powers`: output ``k`` of the mesh lands on the meters
  named in ``meter`` in order, each taking as many consecutive outputs as it has ports;
* input modulators (option ``modulators``: a heater driver, e.g. a QDAC-II, publishing
  ``<driver>.voltages``): the laser light goes through a 1xN splitter, and on each input port
  ``k`` through an amplitude MZI (channel ``2k``) and a phase shifter (channel ``2k + 1``);
* a fibre switch (option ``switch``: an ``optical_switch`` simulator, e.g. ``jdsu_sb``,
  publishing ``<switch>.channel``): the laser reaches the chip through the switch, whose output
  ``c`` is spliced to chip input ``switch_ports[c]`` (by default output ``c`` to input ``c - 1``);
  an output not spliced to the chip, or no route (channel 0), leaves the chip dark.

The modulator model, per input port ``k`` (field as a fraction of the coupled laser field)::

    x_k = sqrt(s_k) * sin(phi_a,k / 2) * exp(i phi_p,k)
    phi = phi0 + alpha (1 + e) V^2 / R          (alpha, R: the chip's HeaterModel)

``s_k`` is the splitter's share (1/n, with a hidden imbalance of the ``beam_splitter`` level),
``phi0`` a hidden offset (``phase_shifter`` level) and ``e`` a hidden efficiency error
(``heater_efficiency`` level), drawn once from the world's seed. A port at full transmission
(``phi_a = pi``) carries ``1/n`` of the coupled power. What lights the chip, in order: amplitudes
written by hand to ``<chip>.input_amplitudes`` (a fibre switch; the calibration routines do
this); the modulators, while any of their channels is driven; the fibre switch's route, with
a ``switch``; ``input_port`` without one. With every modulator channel at 0 V (the driver's
power-on and safe state) the simulated bench routes the laser past the modulators into the
input the switch selects (or ``input_port``), so a heater calibration that lights one input at a
time runs with the modulators idle. That bypass is a convention of this simulation, not a claim
about a real bench.

The physics is :class:`~hilt.sims.physics.MZIMesh` with its hidden errors
(``.with_errors(levels, seed)``: heater phase offsets and efficiencies, thermal crosstalk,
coupler errors, loss spread, detector gain/dark/noise) drawn once from the world's seed and frozen.
Heater phases follow ``phi0 + alpha * (C P)`` with ``P = V^2 / R``. The transfer matrix is cached
until a heater voltage changes (or, with drift, until simulated time moves). Detector dark level
and noise are relative to ``detector_scale_w`` (the error presets are relative to unit power).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from hilt.errors import ConfigError
from hilt.sims.physics import ErrorLevels, HeaterModel, MZIMesh, error_levels


def _names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _levels(errors: str | dict[str, Any] | ErrorLevels | None, default: str) -> ErrorLevels:
    if errors is None:
        return error_levels(default)
    if isinstance(errors, dict):
        overrides = dict(errors)
        preset = overrides.pop("preset", default)
        return error_levels(preset, **overrides)
    return error_levels(errors)


def _check_input_port(port: Any, n: int) -> None:
    if isinstance(port, str):
        if port != "uniform":
            raise ConfigError(f"input_port must be a port index, 'uniform' or {n} amplitudes, not {port!r}")
    elif np.ndim(port) == 0:
        if isinstance(port, bool) or int(port) != port or not 0 <= port < n:
            raise ConfigError(f"input_port must be one of the chip's ports 0..{n - 1}, not {port!r}")
    elif np.size(port) != n:
        raise ConfigError(f"input_port must give {n} amplitudes (one per mode), not {np.size(port)}")


def _switch_ports(ports: Any, n: int) -> dict[int, int]:
    """``{switch output: chip input}``; by default output ``c`` (1..n) feeds input ``c - 1``."""
    if ports is None:
        return {c: c - 1 for c in range(1, n + 1)}
    if not isinstance(ports, dict):
        raise ConfigError(f"switch_ports must map switch outputs to chip inputs ({{1: 0, 2: 1}}), not {ports!r}")
    out: dict[int, int] = {}
    for channel, port in ports.items():
        for what, v, lo, hi in (("switch output", channel, 1, None), ("chip input", port, 0, n - 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
                raise ConfigError(f"switch_ports: {what} {v!r} must be a whole number "
                                  f"{lo}..{hi if hi is not None else 'N'}")
        out[int(channel)] = int(port)
    return out


class MZIChip:
    """An ``n``-mode MZI mesh driven by heater simulators, lit by a laser, read by power meters."""

    #: Options that name instruments of the station (checked when the station file is read).
    instrument_options: ClassVar[tuple[str, ...]] = ("heaters", "laser", "meter", "modulators", "switch")

    def __init__(self, world: Any, *, name: str = "chip", n: int = 8, kind: str = "clements",
                 heaters: str | Sequence[str] = ("heaters",), laser: str = "laser",
                 meter: str | Sequence[str] = ("pm",), input_port: int | str | Sequence[float] = 0,
                 errors: str | dict[str, Any] | None = None, insertion_loss_db: float = 0.1,
                 coupling_loss_db: float = 0.0, center_wavelength: float = 1550e-9,
                 bandwidth: float = 70e-9, resistance: float = 1000.0, p_pi: float = 0.025,
                 detector_scale_w: float = 1e-3, modulators: str | None = None, switch: str | None = None,
                 switch_ports: dict[int, int] | None = None) -> None:
        if isinstance(n, bool) or int(n) != n or n < 2:
            raise ConfigError(f"n must be a whole number of modes, 2 or more, not {n!r}")
        self.world = world
        self.name = name
        self.n = int(n)
        _check_input_port(input_port, self.n)
        self.heater_sources = _names(heaters)
        self.laser = laser
        self.meters = _names(meter)
        if modulators is not None and not isinstance(modulators, str):
            raise ConfigError(f"modulators must name one heater driver, not {modulators!r}")
        self.modulators = modulators
        if switch is not None and not isinstance(switch, str):
            raise ConfigError(f"switch must name one optical switch, not {switch!r}")
        self.switch = switch
        self.switch_ports = _switch_ports(switch_ports, self.n)
        self.input_port = input_port
        self.coupling_loss_db = float(coupling_loss_db)
        self.center_wavelength = float(center_wavelength)
        self.bandwidth = float(bandwidth)
        self.detector_scale_w = float(detector_scale_w)
        self.levels = _levels(errors, getattr(world, "errors", "none"))
        # One seed for the chip's hidden errors, fixed by (world seed, chip name) alone.
        self.errors_seed = int(world.rng(f"{name}.errors").integers(0, 2**62))
        heater = HeaterModel(alpha=math.pi / p_pi, resistance=float(resistance), v_max=12.0)
        self.heater = heater
        with torch.no_grad():
            self.twin = MZIMesh(self.n, kind, insertion_loss_db, heater, init="identity")
            self.device = self.twin.with_errors(self.levels, self.errors_seed)
        self.errors = self.device.errors
        assert self.errors is not None
        detector = self.errors.detector
        self.gain = detector.gain.double().numpy()
        self.dark_w = detector.dark.double().numpy() * self.detector_scale_w
        self.noise_w = float(detector.noise_std) * self.detector_scale_w
        self._noise = world.rng(f"{name}.noise")
        # The input modulators' hidden errors, from their own stream (the mesh's stay as they were).
        g = world.rng(f"{name}.modulator_errors")
        self.modulator_offset = self.levels.phase_shifter * g.standard_normal((self.n, 2))
        self.modulator_efficiency = 1.0 + self.levels.heater_efficiency * g.standard_normal((self.n, 2))
        share = np.clip(1.0 + self.levels.beam_splitter * g.standard_normal(self.n), 0.0, None)
        self.splitter = share / share.sum()
        self._drifts = bool(torch.any(self.errors.drift_rad_per_hour != 0))
        self._lock = threading.RLock()
        self._version = 0
        self._cache: tuple[tuple[int, float, bytes], np.ndarray] | None = None
        self._meter_ports: dict[str, int] = {}
        for source in self.heater_sources:
            world.watch(f"{source}.voltages", self._voltages_changed)

    # -- structure --------------------------------------------------------------------------
    @property
    def n_heaters(self) -> int:
        return self.device.layout.n_heaters

    def register_meter(self, meter: str, ports: int) -> None:
        """A power meter announces its port count (sets where the next meter's block starts)."""
        with self._lock:
            self._meter_ports[meter] = int(ports)

    # -- state of the world -----------------------------------------------------------------
    def _voltages_changed(self, key: str, value: Any) -> None:
        with self._lock:
            self._version += 1

    def _source_voltages(self, source: str) -> np.ndarray:
        # A driver whose outputs move by themselves (a ramp, a sweep) publishes ``voltages_fn``:
        # its channels at a simulated time; the others publish ``voltages`` when they change.
        fn = self.world.get(f"{source}.voltages_fn")
        if fn is not None:
            return np.asarray(fn(self.world.clock.now()), dtype=float).ravel()
        return np.asarray(self.world.get(f"{source}.voltages", np.zeros(0)), dtype=float).ravel()

    def voltages(self) -> np.ndarray:
        """Heater voltages in mesh order (V), from the heater drivers' published channels."""
        parts = [self._source_voltages(s) for s in self.heater_sources]
        v = np.concatenate(parts) if parts else np.zeros(0)
        out = np.zeros(self.n_heaters)
        k = min(v.size, self.n_heaters)
        out[:k] = v[:k]
        return out

    def coupling(self, wavelength: float | None = None, at: float | None = None) -> float:
        """Fibre-to-chip power transmission at ``wavelength`` (the laser's by default, at simulated
        time ``at``, now by default)."""
        if wavelength is None:
            # A sweeping laser publishes its trajectory (``wavelength_fn``): the light of then.
            fn = self.world.get(f"{self.laser}.wavelength_fn")
            lam = fn(self.world.clock.now() if at is None else at) if fn is not None else \
                self.world.get(f"{self.laser}.wavelength", self.center_wavelength)
        else:
            lam = wavelength
        detune = (float(lam) - self.center_wavelength) / self.bandwidth
        return 10 ** (-self.coupling_loss_db / 10) * math.exp(-4 * math.log(2) * detune**2)

    def input_power_w(self, at: float | None = None) -> float:
        """Laser power that enters the mesh (W), at simulated time ``at`` (now by default)."""
        if not self.world.get(f"{self.laser}.output", False):
            return 0.0
        return float(self.world.get(f"{self.laser}.power_w", 0.0)) * self.coupling(at=at)

    def modulator_voltages(self) -> np.ndarray | None:
        """The modulators' channel voltages (V), ``2 n`` of them (amplitude, phase per port);
        None without modulators or while every channel is at 0 V (the bypass, module docstring)."""
        if self.modulators is None:
            return None
        v = np.asarray(self.world.get(f"{self.modulators}.voltages", np.zeros(0)), dtype=float).ravel()
        out = np.zeros(2 * self.n)
        k = min(v.size, out.size)
        out[:k] = v[:k]
        return out if np.any(out != 0) else None

    def modulated_field(self, voltages: np.ndarray) -> np.ndarray:
        """Input amplitudes (fraction of the coupled laser field) the modulators make at
        ``voltages`` (2 n: amplitude MZI, phase shifter, per port); the module docstring's model."""
        v = np.asarray(voltages, dtype=float).reshape(self.n, 2)
        phase = self.modulator_offset + self.heater.alpha * self.modulator_efficiency * v**2 / self.heater.resistance
        return np.sqrt(self.splitter) * np.sin(phase[:, 0] / 2) * np.exp(1j * phase[:, 1])

    def input_field(self) -> np.ndarray:
        """Input amplitudes: unit total power for a port, ``uniform`` or amplitudes by hand;
        from the modulators, the fraction of the coupled field each port carries."""
        given = self.world.get(f"{self.name}.input_amplitudes")
        if given is None:
            mod = self.modulator_voltages()
            if mod is not None:
                return self.modulated_field(mod)
        if given is None and self.switch is not None:
            port = self.switch_ports.get(int(self.world.get(f"{self.switch}.channel", 0) or 0))
            x = np.zeros(self.n, dtype=complex)
            if port is not None:
                x[port] = 1.0
            return x
        scheme: Any = self.input_port if given is None else given
        if isinstance(scheme, str):
            if scheme != "uniform":
                raise ValueError(f"{self.name}: input_port {scheme!r}: an index, 'uniform' or amplitudes")
            x = np.ones(self.n, dtype=complex)
        elif np.ndim(scheme) == 0:
            x = np.zeros(self.n, dtype=complex)
            x[int(scheme)] = 1.0
        else:
            x = np.asarray(scheme, dtype=complex).ravel()
            if x.size != self.n:
                raise ValueError(f"{self.name}: {x.size} input amplitudes for {self.n} modes")
        norm = np.linalg.norm(x)
        return x / norm if norm > 0 else x

    # -- optics -----------------------------------------------------------------------------
    def transfer_matrix(self) -> np.ndarray:
        """U (n, n), ``y = U x``, for the heater voltages now; rebuilt only when they change."""
        with self._lock:
            t = float(self.world.clock.now()) if self._drifts else 0.0
            # Outputs that move by themselves are keyed by their values, the others by version.
            moving = any(self.world.get(f"{s}.voltages_fn") is not None for s in self.heater_sources)
            key = (self._version, t, self.voltages().tobytes() if moving else b"")
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            v = torch.as_tensor(self.voltages(), dtype=torch.float32)
            with torch.no_grad():
                self.device.time_s = t
                u = self.device.transfer_matrix(v).detach().numpy().astype(np.complex128)
            self._cache = (key, u)
            return u

    def output_powers(self, at: float | None = None) -> np.ndarray:
        """Optical power at each mesh output (W), before any detector; ``at``: the simulated time
        whose laser wavelength counts (a meter's logged sample), now by default."""
        p_in = self.input_power_w(at)
        y = self.transfer_matrix() @ self.input_field()
        return p_in * np.abs(y) ** 2

    def port_powers(self, noise: bool = True, at: float | None = None) -> np.ndarray:
        """What ideal-responsivity detectors on the outputs report (W): gain, dark level, noise."""
        p = self.gain * self.output_powers(at) + self.dark_w
        if noise and self.noise_w > 0:
            with self._lock:
                p = p + self.noise_w * self._noise.standard_normal(self.n)
        return p

    def meter_powers(self, meter: str, ports: int, at: float | None = None) -> np.ndarray:
        """The readings of ``meter``'s ``ports`` ports: its block of outputs, zero past the mesh;
        ``at``: the simulated time of the reading (a logged sample's), now by default."""
        with self._lock:
            self._meter_ports.setdefault(meter, int(ports))
            if meter in self.meters:
                start = sum(self._meter_ports.get(m, self.n) for m in self.meters[: self.meters.index(meter)])
            else:
                start = 0
        powers = self.port_powers(at=at)
        out = np.zeros(int(ports))
        block = powers[start:start + int(ports)]
        out[: block.size] = block
        return out

    def state(self) -> dict[str, Any]:
        return {"n": self.n, "input_power_w": self.input_power_w(),
                "output_powers_w": self.output_powers().tolist()}
