"""Device class: a diffractive processor (a stack of phase or height masks, read by detectors).

The loops program and read a diffractive network through this interface, whatever is behind
it: a bench with programmable masks (SLMs, metasurfaces, or a printer that makes each new
stack), a source, an input modulator and a detector (array, camera, or one detector raster-
scanned over the output plane through a lock-in), or, for algorithm development and fast
tests, :class:`LocalDiffractiveProcessor`, which evaluates the world's physics in-process.

The programmed quantity of a layer is its mask in physical units: the height map (metres) of a
:class:`~hilt.sims.physics.HeightMask` (what a printer makes) or the phase map (radians) of a
:class:`~hilt.sims.physics.PhaseMask` (what an SLM shows). Every call to
:meth:`DiffractiveProcessor.run` is a physical query: processors count samples and calls so
loops can report what training cost on the hardware (:class:`QueryCounter`, shared with the
MZI processors).

:func:`raster_seconds_per_sample` is the cost model of the slowest readout, one detector
moved over the class regions by an XY stage and read through a lock-in.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from hilt.instruments.mesh_processor import QueryCounter

#: Time constants a lock-in reading needs to settle to ~1e-4 after a step, per filter slope
#: (dB/oct): a cascade of n first-order sections (the same figures hilt.loops.calibration.thz uses).
SETTLE_TIME_CONSTANTS = {6: 9.0, 12: 12.0, 18: 14.0, 24: 16.0}


@runtime_checkable
class DiffractiveProcessor(Protocol):
    """L programmable masks on a (ny, nx) grid, an input plane and ``n_regions`` detectors."""

    shape: tuple[int, int]
    n_layers: int
    n_regions: int
    queries: QueryCounter

    def load_masks(self, masks: Sequence[np.ndarray]) -> None:
        """Program every layer (one (ny, nx) array per layer, in the mask's physical units)."""

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Send a batch of input fields (B, ny, nx) complex; return the detector readings
        (B, n_regions) and, when ``internal`` and the processor can measure them, the intensity
        planes arriving at layers 2..L (a list of L - 1 arrays (B, ny, nx); else empty)."""

    def safe_state(self) -> None:
        """Source off."""


def mask_values(mask: torch.nn.Module) -> np.ndarray:
    """The physical value a mask is programmed with: heights (m) or phases (rad)."""
    if hasattr(mask, "raw") and hasattr(mask, "max_height"):
        return mask.height.detach().numpy().copy()
    if hasattr(mask, "phase") and not hasattr(mask, "amplitude_logit"):
        return mask.phase.detach().numpy().copy()
    raise TypeError(f"{type(mask).__name__}: only height and phase masks can be programmed")


def masks_of(stack: torch.nn.Module) -> list[np.ndarray]:
    """The programmed values of every mask of a :class:`~hilt.sims.physics.DiffractiveStack`."""
    return [mask_values(m) for m in stack.masks]


def _set_mask(mask: torch.nn.Module, value: np.ndarray) -> None:
    v = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tuple(v.shape) != tuple(mask.shape):
        raise ValueError(f"mask of shape {tuple(v.shape)} for a {tuple(mask.shape)} layer")
    with torch.no_grad():
        if hasattr(mask, "raw"):
            # Heights are stored through a sigmoid; a height at the bounds maps to a finite raw.
            frac = (v / mask.max_height).clamp(1e-6, 1.0 - 1e-6)
            mask.raw.copy_(torch.logit(frac))
        else:
            mask.phase.copy_(v)


class LocalDiffractiveProcessor:
    """The physical stack evaluated in-process (no wire); for development and fast tests.

    It keeps its own copy of the physical stack (frozen errors, detector noise generator
    included), so programming it is an explicit act, as with hardware: the loop's twin and
    this device share nothing. ``measures_internal``: whether :meth:`run` can return the
    intensity planes between layers (a camera or raster at each plane).
    """

    def __init__(self, physical_stack: torch.nn.Module, *, measures_internal: bool = True) -> None:
        if physical_stack.detectors is None:
            raise ValueError("the stack has no detectors")
        self.stack = copy.deepcopy(physical_stack)
        for p in self.stack.parameters():
            p.requires_grad_(False)
        self.shape = tuple(int(n) for n in self.stack.shape)
        self.n_layers = len(self.stack.masks)
        self.n_regions = int(self.stack.detectors.n)
        self.measures_internal = measures_internal
        self.queries = QueryCounter()

    def load_masks(self, masks: Sequence[np.ndarray]) -> None:
        if len(masks) != self.n_layers:
            raise ValueError(f"expected masks for {self.n_layers} layers, got {len(masks)}")
        for mask, value in zip(self.stack.masks, masks, strict=True):
            _set_mask(mask, value)
        self.queries.programming_calls += 1

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        t0 = time.perf_counter()
        x = torch.as_tensor(np.asarray(inputs, dtype=np.complex64))
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"input planes {tuple(x.shape[-2:])}, expected {self.shape}")
        s = self.stack
        states: list[np.ndarray] = []
        with torch.no_grad():
            # The stack's own per-layer physics (errors included), so the planes between layers
            # are the device's, not a re-implementation's.
            u = s.propagators[0](x)
            for i in range(self.n_layers):
                u = s.propagators[i + 1](u * s._layer_transmission(i))
                if internal and self.measures_internal and i < self.n_layers - 1:
                    states.append(u.abs().square().numpy())
            out = s.readout(s.detectors(u.abs().square())).numpy()
        self.queries.samples += len(x)
        self.queries.calls += 1
        self.queries.seconds += time.perf_counter() - t0
        return out, states

    def safe_state(self) -> None:
        """Nothing physical to protect in-process."""


def trapezoid_move_seconds(distance_mm: float, velocity: float, acceleration: float) -> float:
    """Duration of a point-to-point stage move with a trapezoidal (or triangular) profile."""
    d = abs(float(distance_mm))
    if d == 0:
        return 0.0
    if d >= velocity * velocity / acceleration:
        return d / velocity + velocity / acceleration
    return 2.0 * math.sqrt(d / acceleration)


def raster_seconds_per_sample(centres_mm: Sequence[tuple[float, float]], *,
                              time_constant_s: float, slope_db: int = 12, averages: int = 1,
                              velocity_mm_s: float = 5.0, acceleration_mm_s2: float = 20.0,
                              discard_reads: int = 1, read_s: float = 0.0,
                              return_to_start: bool = True) -> float:
    """Time to read one sample with one detector visiting each region centre in turn.

    Per region: an XY move (both axes at once: the longer axis sets the time), ``discard_reads``
    reads after the stop, the lock-in's settling (``SETTLE_TIME_CONSTANTS[slope] x tau``),
    then ``averages`` reads one time constant apart (each ``read_s`` of serial I/O). The stage
    returns to the first region for the next sample when ``return_to_start``. Every setting is
    the bench's (defaults: the ESP301 simulator's 5 mm/s, 20 mm/s^2).
    """
    settle = SETTLE_TIME_CONSTANTS.get(int(slope_db), 16.0) * time_constant_s
    total = 0.0
    path = list(centres_mm) + ([centres_mm[0]] if return_to_start and centres_mm else [])
    for k, (x, y) in enumerate(path):
        if k:
            px, py = path[k - 1]
            total += max(trapezoid_move_seconds(x - px, velocity_mm_s, acceleration_mm_s2),
                         trapezoid_move_seconds(y - py, velocity_mm_s, acceleration_mm_s2))
        if k < len(centres_mm):
            total += (discard_reads + averages) * read_s + settle \
                + max(0, averages - 1) * time_constant_s
    return total


def region_centres_mm(regions: Sequence[tuple[int, int, int, int]], shape: tuple[int, int],
                      pitch_m: float, serpentine: bool = True) -> list[tuple[float, float]]:
    """Centres (x, y) in mm, optical axis at 0, of detector regions (y0, x0, h, w) in pixels;
    ordered row by row, alternate rows reversed (serpentine) for the shortest stage path."""
    ny, nx = shape
    p = pitch_m * 1e3
    pts = [((x0 + w / 2 - nx / 2) * p, (y0 + h / 2 - ny / 2) * p) for y0, x0, h, w in regions]
    rows: dict[float, list[tuple[float, float]]] = {}
    for x, y in pts:
        rows.setdefault(round(y, 6), []).append((x, y))
    out: list[tuple[float, float]] = []
    for r, y in enumerate(sorted(rows)):
        row = sorted(rows[y])
        out.extend(reversed(row) if (serpentine and r % 2) else row)
    return out


__all__ = [
    "SETTLE_TIME_CONSTANTS", "DiffractiveProcessor", "LocalDiffractiveProcessor", "mask_values",
    "masks_of", "raster_seconds_per_sample", "region_centres_mm", "trapezoid_move_seconds",
]
