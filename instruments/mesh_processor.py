"""Device class: a programmable photonic processor made of MZI meshes.

The loops program and read an MZI network through this interface, whatever is behind it: a
station instrument speaking a wire protocol to the chip's vector DAC and multi-port readout
(:class:`hilt.drivers.photonic_processor.PhotonicProcessor`), or, for algorithm development and
fast tests, :class:`LocalMeshProcessor`, which evaluates the world's physics in-process.

Phases are the network's trainable quantities; a processor maps them to heater settings through
its own calibration. Every call to :meth:`MeshProcessor.run` is a physical query: processors
count samples and calls so loops can report what training cost on the hardware.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from hilt.instruments.heater_calibration import (
    HeaterCalibration,
    load_heater_calibrations,
    save_heater_calibrations,
)


@dataclass
class MeshPhases:
    """The programmable phases of one mesh (radians)."""

    theta: np.ndarray  # (n_mzi,)
    phi: np.ndarray  # (n_mzi,)
    out_phase: np.ndarray  # (n,)


@dataclass
class QueryCounter:
    samples: int = 0
    calls: int = 0
    seconds: float = 0.0
    programming_calls: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class MeshProcessor(Protocol):
    """L meshes of N ports with an optical activation between them, read by photodetectors."""

    n_ports: int
    n_layers: int
    queries: QueryCounter

    def load_phases(self, phases: list[MeshPhases]) -> None:
        """Program every mesh (one :class:`MeshPhases` per layer)."""

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Send a batch of input amplitude vectors (B, N) complex; return the detected output
        intensities (B, N) and, when ``internal`` and the processor can measure them, the
        intensities after each mesh but the last (a list of (B, N) arrays; else empty)."""

    def safe_state(self) -> None:
        """Heaters to zero, light off."""


def phases_of(network: torch.nn.Module) -> list[MeshPhases]:
    """The phases of a :class:`hilt.sims.physics.MZINetwork` (or its twin) as plain arrays."""
    return [MeshPhases(m.theta.detach().numpy().copy(), m.phi.detach().numpy().copy(),
                       m.out_phase.detach().numpy().copy()) for m in network.meshes]


class LocalMeshProcessor:
    """The physical network evaluated in-process (no wire); for development and fast tests.

    It keeps its own copy of the physical network (errors included) so that programming it is an
    explicit act, as with hardware: the loop's twin and this device share nothing.
    """

    def __init__(self, physical_network: torch.nn.Module, *, measures_internal: bool = True) -> None:
        self.network = copy.deepcopy(physical_network)
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.n_ports = int(self.network.meshes[0].n)
        self.n_layers = len(self.network.meshes)
        self.mesh = str(getattr(self.network.meshes[0], "kind", "clements"))
        self.measures_internal = measures_internal
        self.queries = QueryCounter()

    def load_phases(self, phases: list[MeshPhases]) -> None:
        if len(phases) != self.n_layers:
            raise ValueError(f"expected phases for {self.n_layers} meshes, got {len(phases)}")
        with torch.no_grad():
            for mesh, ph in zip(self.network.meshes, phases, strict=True):
                mesh.theta.copy_(torch.as_tensor(ph.theta))
                mesh.phi.copy_(torch.as_tensor(ph.phi))
                mesh.out_phase.copy_(torch.as_tensor(ph.out_phase))
        self.queries.programming_calls += 1

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        t0 = time.perf_counter()
        x = torch.as_tensor(np.asarray(inputs, dtype=np.complex64))
        states: list[np.ndarray] = []
        with torch.no_grad():
            net = self.network
            for i, mesh in enumerate(net.meshes):
                x = mesh(x)
                if i < len(net.meshes) - 1:
                    if internal and self.measures_internal:
                        states.append(x.abs().square().numpy())
                    x = net.activation(x)
            out = net.detectors(x.abs().square()).numpy()
        self.queries.samples += len(inputs)
        self.queries.calls += 1
        self.queries.seconds += time.perf_counter() - t0
        return out, states

    def safe_state(self) -> None:
        """Nothing physical to protect in-process."""


class StationMeshProcessor:
    """A :class:`MeshProcessor` on a station instrument (:class:`hilt.drivers.photonic_processor.PhotonicProcessor`).

    Phases become heater voltages through per-mesh :class:`HeaterCalibration` (nominal until the
    calibration routine has fitted them; ``load_calibration`` reads its .npz). :meth:`prepare`
    switches the light source on at ``light_mw``; a loop calls it before its first query and
    :meth:`recover` after a fault, since a safe state or a controller restart turns it off.
    """

    def __init__(self, driver: Any, calibration: list[HeaterCalibration] | None = None,
                 light_mw: float = 1.0) -> None:
        self.driver = driver
        self.light_mw = float(light_mw)
        self.n_ports = int(driver.n_ports)
        self.n_layers = int(driver.n_layers)
        self.measures_internal = bool(driver.info.get("measures_internal", False))
        self.mesh = str(driver.info.get("mesh", "clements"))
        self.calibration = calibration or [HeaterCalibration.nominal(driver.heaters_per_layer)
                                           for _ in range(self.n_layers)]
        self.queries = QueryCounter()
        if calibration is None and getattr(driver, "calibration_file", None):
            self.load_calibration(driver.calibration_file)

    def load_calibration(self, path: str | Path) -> None:
        """Read one heater calibration per mesh from a file (``phi0_k``, ``alpha_k``, ...; see
        :mod:`hilt.instruments.heater_calibration`)."""
        from hilt.errors import ConfigError

        try:
            self.calibration = load_heater_calibrations(path, self.n_layers)
        except ConfigError as exc:
            raise ConfigError(f"{self.driver.name}: {exc}") from None

    def save_calibration(self, path: str | Path) -> Path:
        """Write the meshes' heater calibrations to ``path`` (atomically: the old file stays
        whole until the new one is complete)."""
        return save_heater_calibrations(path, self.calibration)

    def load_phases(self, phases: list[MeshPhases]) -> None:
        from hilt.errors import LimitError

        if len(phases) != self.n_layers:
            raise LimitError(f"expected phases for {self.n_layers} meshes, got {len(phases)}", instrument=self.driver.name)
        volts = [cal.voltages_for(np.concatenate([p.theta, p.phi, p.out_phase]))
                 for cal, p in zip(self.calibration, phases, strict=True)]
        # Check the whole chip before the first byte: never leave it half programmed.
        v_max = float(getattr(self.driver, "heater_limit", self.driver.v_max))
        for layer, v in enumerate(volts):
            if v.size != self.driver.heaters_per_layer:
                raise LimitError(f"mesh {layer}: phases for {v.size} heaters (chip has {self.driver.heaters_per_layer})",
                                 instrument=self.driver.name, parameter="heaters")
            bad = np.flatnonzero(~np.isfinite(v) | (v < 0) | (v > v_max))
            if bad.size:
                i = int(bad[0])
                raise LimitError(f"mesh {layer}: heater {i} needs {v[i]:.3g} V (allowed [0, {v_max:g}] V; "
                                 "a NaN or infinite phase, or a calibration that does not reach it)",
                                 instrument=self.driver.name, parameter="heaters", value=float(v[i]))
        for layer, v in enumerate(volts):
            self.driver.set_heaters(layer, v)
        self.queries.programming_calls += 1

    def program_unitary(self, target: np.ndarray, **options: Any) -> Any:
        """Program the unitary ``target`` on one mesh (``layer=``), the others at the identity:
        :func:`hilt.instruments.mesh_programming.program_unitary` on this chip."""
        from hilt.instruments.mesh_programming import program_unitary

        return program_unitary(self, target, **options)

    def prepare(self) -> None:
        """The light source on, at ``light_mw``: what every measurement needs."""
        self.driver.set_light(True, self.light_mw)

    def recover(self) -> bool:
        """After a fault: reopen the link if it dropped, and switch the light on again (the
        caller programs the phases again). True if the link was reopened."""
        reconnected = not self.driver.connected
        if reconnected:
            self.driver.reconnect()
        self.prepare()
        return reconnected

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        t0 = time.perf_counter()
        out, states = self.driver.run(inputs, internal=internal)
        self.queries.samples += len(inputs)
        self.queries.calls += 1
        self.queries.seconds += time.perf_counter() - t0
        return out, states

    def safe_state(self) -> None:
        self.driver.safe_state()
