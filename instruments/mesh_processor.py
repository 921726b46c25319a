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
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch


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
        import time

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
