"""A photonic processor composed from the instruments of a small MZI bench.

The bench: a tunable laser feeds the chip; on the chip a 1xN splitter spreads the light over N
input ports, each with an *input modulator* (an amplitude MZI, then a phase shifter, both
thermo-optic heaters); an N-port Clements mesh whose heaters hang on a heater driver; a
multi-port power meter on the mesh's N outputs. A second heater driver (the station role
``modulators``) drives the modulators' 2N heaters. None of these instruments is a photonic
processor by itself; :class:`BenchMeshProcessor` makes them one, using only their kinds
(``tunable_laser``, ``heater_driver`` twice, ``power_meter``), so the training loops run on the
bench as on a vector/batch chip (:class:`~hilt.instruments.mesh_processor.StationMeshProcessor`).

**Mesh.** Phases become heater voltages through a
:class:`~hilt.instruments.heater_calibration.HeaterCalibration` (nominal, P_pi = 25 mW at 1 kOhm,
until ``hilt calibrate STATION mzi_heaters`` has fitted one and the file is given). Heater ``i``
of the mesh is channel ``i`` of the mesh driver, in mesh order (theta of every MZI, phi of every
MZI, the output phase shifters).

**Modulators.** Channel ``2k`` of the modulator driver heats port ``k``'s amplitude MZI, channel
``2k + 1`` its phase shifter. The model this processor assumes (the modulator calibration, one
:class:`HeaterCalibration` of ``2N`` heaters in that channel order, nominal unless a file is given)::

    a_k = full_scale * sin(phi_a / 2) * exp(i phi_p),    phi = phi0 + alpha V^2 / R

so an encoded amplitude ``x_k`` (the loops' units: each sample's amplitudes have total power
``input_power``, 1 by default) is made by ``phi_a = 2 arcsin(|x_k| / full_scale)`` and
``phi_p = arg x_k``. ``|x_k| = full_scale`` (1 by default) is the modulator fully open, carrying
``1/N`` of the laser's power; an amplitude above it cannot be made and is refused (a
:class:`~hilt.errors.LimitError` before any byte is sent), as is any voltage outside the driver's
range or the station's soft limits.

**Outputs.** One sample at a time: the sample's 2N modulator voltages in one vector set, then
every meter port in one read. Readings (W) are divided by ``laser_power_w / N`` (the power one
fully open port carries, as set, before the chip's coupling and insertion losses), so an
error-free lossless chip would read what the twin computes. What was not verified: the
modulator model against a real device (a real amplitude MZI has a finite extinction ratio and
its own splitter imbalance, which the nominal calibration does not know; fit them as for the
mesh heaters); the bench has no taps between meshes (``measures_internal`` is False) and no
optical activation (one mesh).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from hilt.errors import ConfigError, LimitError
from hilt.instruments.heater_calibration import HeaterCalibration, load_heater_calibrations
from hilt.instruments.mesh_processor import MeshPhases, QueryCounter
from hilt.sims.physics import mesh_layout

TWO_PI = 2.0 * math.pi
#: The station roles the bench processor is built from, and the kinds that fill them.
ROLES = {"laser": "tunable_laser", "heaters": "heater_driver", "modulators": "heater_driver",
         "meter": "power_meter"}


def _calibration(value: HeaterCalibration | str | Path | None, n_heaters: int, what: str) -> HeaterCalibration:
    if value is None:
        return HeaterCalibration.nominal(n_heaters)
    cal = value if isinstance(value, HeaterCalibration) else load_heater_calibrations(value, 1)[0]
    if cal.n_heaters != n_heaters:
        raise ConfigError(f"{what} calibration holds {cal.n_heaters} heaters; the bench has {n_heaters}")
    return cal


class BenchMeshProcessor:
    """One N-port Clements mesh on a bench of kinds: laser, mesh heaters, modulators, meter.

    Implements the :class:`~hilt.instruments.mesh_processor.MeshProcessor` interface the loops
    use (``n_ports``, ``n_layers``, ``queries``, ``load_phases``, ``run``, ``safe_state``,
    ``prepare``, ``recover``) and ``describe()`` as a ``photonic_processor`` instrument does.
    ``n_ports`` defaults to the meter's port count. See the module documentation for the
    bench and the modulator model.
    """

    n_layers = 1
    measures_internal = False

    def __init__(self, laser: Any, heaters: Any, modulators: Any, meter: Any, *,
                 n_ports: int | None = None, mesh: str = "clements",
                 calibration: HeaterCalibration | str | Path | None = None,
                 modulator_calibration: HeaterCalibration | str | Path | None = None,
                 laser_power_w: float = 1e-3, full_scale: float = 1.0, name: str = "bench") -> None:
        self.name = name
        self.laser, self.heaters, self.modulators, self.meter = laser, heaters, modulators, meter
        n = int(meter.n_ports if n_ports is None else n_ports)
        self.n_ports = n
        self.mesh = mesh
        self.heaters_per_layer = mesh_layout(n, mesh).n_heaters
        where = f"{name}: "
        if int(meter.n_ports) < n:
            raise ConfigError(f"{where}{meter.name} reads {meter.n_ports} ports; the mesh has {n} outputs")
        if int(heaters.n_channels) < self.heaters_per_layer:
            raise ConfigError(f"{where}{heaters.name} drives {heaters.n_channels} channels; a {n}-port "
                              f"{mesh} mesh has {self.heaters_per_layer} heaters")
        if int(modulators.n_channels) < 2 * n:
            raise ConfigError(f"{where}{modulators.name} drives {modulators.n_channels} channels; "
                              f"{n} input modulators need {2 * n} (amplitude and phase per port)")
        if heaters is modulators:
            raise ConfigError(f"{where}the mesh heaters and the modulators are the same instrument "
                              f"({heaters.name}); give the modulators their own driver")
        if not (math.isfinite(full_scale) and full_scale > 0):
            raise ConfigError(f"{where}full_scale must be a positive amplitude, not {full_scale!r}")
        self.full_scale = float(full_scale)
        self.laser_power_w = float(laser_power_w)
        if calibration is None:
            calibration = getattr(heaters, "calibration_file", None)
        self.calibration = _calibration(calibration, self.heaters_per_layer, "mesh heater")
        if modulator_calibration is None:
            modulator_calibration = getattr(modulators, "calibration_file", None)
        self.modulator_calibration = _calibration(modulator_calibration, 2 * n, "modulator")
        self.queries = QueryCounter()

    @classmethod
    def from_station(cls, station: Any, **kwargs: Any) -> BenchMeshProcessor:
        """The bench of a station file's roles ``laser``, ``heaters``, ``modulators``, ``meter``
        (a missing role is a one-line ConfigError naming it)."""
        found = {role: station.role(role) for role in ROLES}
        return cls(found["laser"], found["heaters"], found["modulators"], found["meter"],
                   name=kwargs.pop("name", station.name), **kwargs)

    def describe(self) -> dict[str, Any]:
        """What this processor is, as a ``photonic_processor`` instrument reports it."""
        return {"mesh": self.mesh, "n_ports": self.n_ports, "n_layers": 1, "activation": "none",
                "measures_internal": False, "heaters_per_layer": self.heaters_per_layer,
                "detectors": "photodiode"}

    # -- programming --------------------------------------------------------------------------
    def load_phases(self, phases: list[MeshPhases]) -> None:
        """Program the mesh: phases -> voltages (the calibration), checked whole, then one vector set."""
        if len(phases) != 1:
            raise LimitError(f"expected phases for 1 mesh, got {len(phases)}", instrument=self.heaters.name)
        p = phases[0]
        volts = self.calibration.voltages_for(np.concatenate([p.theta, p.phi, p.out_phase]))
        if volts.size != self.heaters_per_layer:
            raise LimitError(f"phases for {volts.size} heaters (the mesh has {self.heaters_per_layer})",
                             instrument=self.heaters.name, parameter="heaters")
        vector = np.zeros(int(self.heaters.n_channels))
        vector[: volts.size] = volts
        self.heaters.set_voltages(self.heaters.validate_voltages(vector))
        self.queries.programming_calls += 1

    def program_unitary(self, target: np.ndarray, **options: Any) -> Any:
        """Program the unitary ``target`` (n, n) and measure how close the chip came:
        :func:`hilt.instruments.mesh_programming.program_unitary` on this bench."""
        from hilt.instruments.mesh_programming import program_unitary

        return program_unitary(self, target, **options)

    def modulator_voltages(self, inputs: np.ndarray) -> np.ndarray:
        """The modulator driver's channel vectors (B, n_channels) for input amplitudes (B, N);
        a LimitError for an amplitude the modulators cannot make (nothing is sent)."""
        x = np.asarray(inputs)
        if x.ndim != 2 or x.shape[1] != self.n_ports:
            raise LimitError(f"inputs of shape {x.shape}; expected (batch, {self.n_ports})",
                             instrument=self.modulators.name, parameter="inputs")
        x = x.astype(complex)
        mag = np.abs(x)
        bad = np.argwhere(~np.isfinite(x) | (mag > self.full_scale * (1 + 1e-6)))
        if bad.size:
            b, k = (int(i) for i in bad[0])
            raise LimitError(f"sample {b}, port {k}: amplitude {x[b, k]:.4g} is beyond what the input "
                             f"modulator makes (|a| <= {self.full_scale:g}, the modulator fully open)",
                             instrument=self.modulators.name, parameter="inputs", value=float(mag[b, k]))
        cal = self.modulator_calibration
        amp = 2.0 * np.arcsin(np.clip(mag / self.full_scale, 0.0, 1.0))  # phi_a in [0, pi]
        phase = np.remainder(np.angle(x), TWO_PI)
        # sin(phi_a / 2) is the same at phi_a and 2 pi - phi_a: heat to the first above phi0.
        phi0_a, phi0_p = cal.phi0[0::2], cal.phi0[1::2]
        d_amp = amp - phi0_a
        d_amp = np.where(d_amp >= 0, d_amp, TWO_PI - amp - phi0_a)
        d_amp = np.where(d_amp >= 0, d_amp, np.remainder(d_amp, 2 * TWO_PI))
        d_phase = np.remainder(phase - phi0_p, TWO_PI)
        scale = cal.resistance / cal.alpha  # V^2 per rad
        volts = np.empty((len(x), 2 * self.n_ports))
        volts[:, 0::2] = np.sqrt(d_amp * scale[0::2])
        volts[:, 1::2] = np.sqrt(d_phase * scale[1::2])
        out = np.zeros((len(x), int(self.modulators.n_channels)))
        out[:, : volts.shape[1]] = volts
        return out

    # -- measuring ----------------------------------------------------------------------------
    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Detected outputs (B, N) for input amplitudes (B, N), one sample at a time; no internal
        states (the bench has no taps). Every sample's voltages are checked before the first is
        sent. An all-zero sample (no light) is not sent: it reads zero."""
        t0 = time.perf_counter()
        vectors = self.modulator_voltages(inputs)
        checked = [self.modulators.validate_voltages(v) for v in vectors]
        dark = ~np.any(np.abs(np.asarray(inputs)) > 0, axis=1)
        out = np.zeros((len(vectors), self.n_ports))
        unit = self.laser_power_w / self.n_ports
        for b, v in enumerate(checked):
            if dark[b]:
                continue
            self.modulators.set_voltages(v)
            out[b] = np.asarray(self.meter.read_all(), dtype=float)[: self.n_ports] / unit
        self.queries.samples += len(vectors)
        self.queries.calls += 1
        self.queries.seconds += time.perf_counter() - t0
        return out, []

    def read_dark(self, averages: int = 4) -> np.ndarray:
        """What the meter reads with the laser off (``n_ports``, in the units of :meth:`run`),
        averaged over ``averages`` reads; the laser is switched on again after. A measurement that
        compares small readings (an intensity transfer's dark entries) subtracts it."""
        unit = self.laser_power_w / self.n_ports
        self.laser.output.set(False)
        try:
            reads = [np.asarray(self.meter.read_all(), dtype=float)[: self.n_ports] for _ in range(max(1, averages))]
        finally:
            self.laser.output.set(True)
        return np.mean(reads, axis=0) / unit

    # -- light and safety ---------------------------------------------------------------------
    def prepare(self) -> None:
        """The laser on at ``laser_power_w``: what every measurement needs."""
        self.laser.power.set(self.laser_power_w)
        self.laser.output.set(True)

    def recover(self) -> bool:
        """After a fault: reopen any instrument whose link dropped, and switch the laser on again
        (the caller programs the phases again). True if a link was reopened."""
        reopened = False
        for inst in (self.laser, self.heaters, self.modulators, self.meter):
            if getattr(inst, "connected", True) is False:
                inst.reconnect()
                reopened = True
        self.prepare()
        return reopened

    def safe_state(self) -> None:
        """Laser off, then the mesh heaters and the modulators ramped to 0 V."""
        for inst in (self.laser, self.heaters, self.modulators):
            inst.safe_state()
