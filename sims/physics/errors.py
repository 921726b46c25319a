"""Systematic error models: named magnitudes, presets, and frozen per-device draws.

A real chip or a 3D-printed stack carries errors that were fixed when it was made or mounted:
they do not change from one query to the next. So every error here is drawn **once** from a
seed and frozen for the life of the simulated device; only readout noise is fresh per read and
drift is a deterministic function of the device clock. The digital twin (``.twin()``) never sees
these values: the gap between twin and device is what calibration and in-situ / dual adaptive
training (DAT) must close.

Magnitudes (:class:`ErrorLevels`) are standard deviations of zero-mean Gaussians unless stated.
Presets: ``none``, ``mild``, ``severe`` and the MZI settings studied in the DAT paper (Zheng et
al., "Dual adaptive training of photonic neural networks", Nat. Mach. Intell. 5, 1119 (2023),
arXiv:2212.06141): ``dat-phase-0.10`` (phase-shifter sigma 0.10 alone), ``dat-bs-0.10``
(beam-splitter sigma 0.10 alone), ``dat-0.10`` and ``dat-0.06`` (both errors at that sigma), and
``dat-0.04``.

MZI error definitions follow the DAT authors' public code (github.com/THPCILab/DAT_MPNN, built
on Neurophox, Pai et al.; files ``neurophoxTorch/meshmodel.py`` ``MeshModel.mzi_error_tensors``
and ``neurophoxTorch/torch/generic.py`` ``MeshTorchLayer.transform``):

- phase-shifter error: an additive offset in radians, Gaussian with std ``phase_shifter``, on
  each MZI's internal (theta) and external (phi) phase; the per-mode phase screen of the mesh
  carries none (here: ``output_phase``, 0 in the DAT presets);
- beam-splitter error: a splitting-ratio deviation ``eps`` of *each* of the two couplers of an
  MZI, drawn independently, Gaussian with std ``beam_splitter``: the coupler's bar power
  transmission is ``(1 + eps) / 2`` and its cross transmission ``(1 - eps) / 2``
  (``[[sqrt(1+eps), i sqrt(1-eps)], [i sqrt(1-eps), sqrt(1+eps)]] / sqrt(2)``). A mixing-angle
  error ``e`` (``cos(pi/4 + e)``) is ``eps = -sin(2 e)``, i.e. twice as large at the same sigma.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from ._util import SeedLike, make_generator


@dataclass(frozen=True)
class ErrorLevels:
    """Named magnitudes of every systematic error the simulated world knows.

    Diffractive optics
      shift_px: lateral layer shift (pixels, per axis per layer).
      rotation_rad: in-plane layer rotation.
      tilt_rad: out-of-plane layer tilt (foreshortens the pattern by cos, lengthens the path).
      axial_m: error of each gap between planes (metres).
      height_rel: fabricated height error per pixel, as a fraction of the layer's max height.
    MZI meshes
      phase_shifter: static additive phase error (rad) of each MZI's theta and phi heater,
        i.e. their unknown phi0 offsets (the DAT definition; module docstring).
      output_phase: the same for the output phase shifters (one per mode).
      heater_efficiency: relative error of each heater's alpha (rad/W).
      beam_splitter: splitting-ratio deviation eps of each coupler, bar power transmission
        (1 + eps) / 2 (ideal 0, i.e. 50:50; the DAT / Neurophox definition).
      thermal_crosstalk: fraction of a heater's power felt by each nearest neighbour (not a std).
      insertion_loss_db: per-MZI loss spread (dB std) around the nominal loss.
    Detectors
      detector_gain: relative responsivity error per channel.
      detector_noise: readout noise std, relative to a unit-power input.
      dark_level: mean dark offset (relative to a unit-power input), spread 20% across channels.
    Time and control
      drift_per_hour: drift rate std (rad/h for phases, px/h for layer shifts).
      control_bits: resolution of the control DAC / SLM grey levels / printer steps (None=ideal).
    Neurons (spiking chip)
      threshold_mismatch, leak_mismatch: relative per-neuron errors.
    """

    shift_px: float = 0.0
    rotation_rad: float = 0.0
    tilt_rad: float = 0.0
    axial_m: float = 0.0
    height_rel: float = 0.0
    phase_shifter: float = 0.0
    output_phase: float = 0.0
    heater_efficiency: float = 0.0
    beam_splitter: float = 0.0
    thermal_crosstalk: float = 0.0
    insertion_loss_db: float = 0.0
    detector_gain: float = 0.0
    detector_noise: float = 0.0
    dark_level: float = 0.0
    drift_per_hour: float = 0.0
    control_bits: int | None = None
    threshold_mismatch: float = 0.0
    leak_mismatch: float = 0.0

    def replace(self, **changes: float | int | None) -> ErrorLevels:
        return dataclasses.replace(self, **changes)

    @property
    def is_none(self) -> bool:
        return self == ErrorLevels()


PRESETS: dict[str, ErrorLevels] = {
    "none": ErrorLevels(),
    "mild": ErrorLevels(
        shift_px=0.1, rotation_rad=1e-3, tilt_rad=5e-3, axial_m=50e-6, height_rel=0.01,
        phase_shifter=0.02, output_phase=0.02, heater_efficiency=0.01, beam_splitter=0.02,
        thermal_crosstalk=0.01,
        insertion_loss_db=0.02, detector_gain=0.01, detector_noise=1e-4, dark_level=1e-4,
        drift_per_hour=0.005, control_bits=12, threshold_mismatch=0.02, leak_mismatch=0.01,
    ),
    "severe": ErrorLevels(
        shift_px=0.5, rotation_rad=5e-3, tilt_rad=0.02, axial_m=300e-6, height_rel=0.05,
        phase_shifter=0.10, output_phase=0.10, heater_efficiency=0.05, beam_splitter=0.20,
        thermal_crosstalk=0.05,
        insertion_loss_db=0.1, detector_gain=0.05, detector_noise=1e-3, dark_level=1e-3,
        drift_per_hour=0.05, control_bits=8, threshold_mismatch=0.10, leak_mismatch=0.05,
    ),
    # The MZI settings of Zheng et al. (DAT), arXiv:2212.06141: Gaussian phase-shifter and/or
    # beam-splitter errors (definitions in the module docstring), everything else ideal.
    "dat-phase-0.10": ErrorLevels(phase_shifter=0.10),
    "dat-bs-0.10": ErrorLevels(beam_splitter=0.10),
    "dat-0.10": ErrorLevels(phase_shifter=0.10, beam_splitter=0.10),
    "dat-0.06": ErrorLevels(phase_shifter=0.06, beam_splitter=0.06),
    "dat-0.04": ErrorLevels(phase_shifter=0.04, beam_splitter=0.04),
}


def error_levels(spec: str | ErrorLevels | None = "none", **overrides: float | int | None
                 ) -> ErrorLevels:
    """Resolve a preset name (or levels) and apply keyword overrides."""
    if spec is None:
        levels = PRESETS["none"]
    elif isinstance(spec, ErrorLevels):
        levels = spec
    else:
        try:
            levels = PRESETS[spec]
        except KeyError:
            raise ValueError(f"unknown error preset {spec!r}; known: {sorted(PRESETS)}") from None
    return levels.replace(**overrides) if overrides else levels


def _normal(shape: tuple[int, ...], std: float, g: torch.Generator) -> torch.Tensor:
    # Always consume the generator, even at std 0, so that adding one error type to a preset
    # does not reshuffle the draws of the others.
    z = torch.randn(shape, generator=g, dtype=torch.float64)
    return (std * z).float()


# -- frozen draws, one dataclass per kind of physical system -------------------------------


@dataclass(frozen=True)
class DetectorErrors:
    gain: torch.Tensor  # (n,) relative, 1 = nominal
    dark: torch.Tensor  # (n,)
    noise_std: float


@dataclass(frozen=True)
class DiffractiveErrors:
    shift_px: torch.Tensor  # (L, 2) lateral (y, x) shift per layer, pixels
    rotation_rad: torch.Tensor  # (L,)
    tilt_rad: torch.Tensor  # (L, 2) out-of-plane tilt about x and y
    axial_m: torch.Tensor  # (L + 1,) gap errors
    height_error_rel: torch.Tensor  # (L, ny, nx) fraction of max height
    drift_px_per_hour: torch.Tensor  # (L, 2)
    control_bits: int | None
    detector: DetectorErrors


@dataclass(frozen=True)
class MZIErrors:
    phase_offset: torch.Tensor  # (n_heaters,) rad: theta_0.., phi_0.., out_0..
    efficiency: torch.Tensor  # (n_heaters,) relative alpha, 1 = nominal
    drift_rad_per_hour: torch.Tensor  # (n_heaters,)
    bs_error: torch.Tensor  # (n_mzi, 2) splitting-ratio deviation eps of the two couplers
    loss_db: torch.Tensor  # (n_mzi,) extra loss, dB (>= 0 is not enforced: spread around nominal)
    crosstalk: float
    control_bits: int | None
    detector: DetectorErrors


@dataclass(frozen=True)
class NeuronErrors:
    threshold_rel: torch.Tensor  # (n,) multiplicative, 1 = nominal
    leak_rel: torch.Tensor  # (n,)


def draw_detector_errors(levels: ErrorLevels, n: int, seed: SeedLike) -> DetectorErrors:
    g = make_generator(seed)
    gain = 1.0 + _normal((n,), levels.detector_gain, g)
    dark = levels.dark_level * (1.0 + _normal((n,), 0.2, g)).clamp_min(0.0)
    return DetectorErrors(gain=gain, dark=dark, noise_std=levels.detector_noise)


def draw_diffractive_errors(levels: ErrorLevels, n_layers: int, shape: tuple[int, int],
                            n_detectors: int, seed: SeedLike) -> DiffractiveErrors:
    """Draw a diffractive stack's errors once (fabrication, mounting, detectors)."""
    g = make_generator(seed)
    L = n_layers
    return DiffractiveErrors(
        shift_px=_normal((L, 2), levels.shift_px, g),
        rotation_rad=_normal((L,), levels.rotation_rad, g),
        tilt_rad=_normal((L, 2), levels.tilt_rad, g),
        axial_m=_normal((L + 1,), levels.axial_m, g),
        height_error_rel=_normal((L, *shape), levels.height_rel, g),
        drift_px_per_hour=_normal((L, 2), levels.drift_per_hour, g),
        control_bits=levels.control_bits,
        detector=draw_detector_errors(levels, n_detectors, g),
    )


def draw_mzi_errors(levels: ErrorLevels, n_mzi: int, n_heaters: int, n_detectors: int,
                    seed: SeedLike) -> MZIErrors:
    """Draw an MZI chip's errors once (heater offsets, couplers, losses, detectors)."""
    g = make_generator(seed)
    # One draw for all heaters, scaled per kind (theta and phi: phase_shifter; output phases:
    # output_phase), so that either magnitude leaves the other's values alone. Offsets are
    # wrapped into (-pi, pi]: larger sigmas are then uniform phases, as for an uncalibrated chip.
    z = _normal((n_heaters,), 1.0, g)
    scale = torch.full((n_heaters,), float(levels.output_phase))
    scale[:2 * n_mzi] = float(levels.phase_shifter)
    offset = torch.remainder(z * scale + math.pi, 2 * math.pi) - math.pi
    # |eps| >= 1 would be a coupler passing more than all the light one way.
    bs = _normal((n_mzi, 2), levels.beam_splitter, g).clamp(-0.999, 0.999)
    return MZIErrors(
        phase_offset=offset,
        efficiency=1.0 + _normal((n_heaters,), levels.heater_efficiency, g),
        drift_rad_per_hour=_normal((n_heaters,), levels.drift_per_hour, g),
        bs_error=bs,
        loss_db=_normal((n_mzi,), levels.insertion_loss_db, g),
        crosstalk=levels.thermal_crosstalk,
        control_bits=levels.control_bits,
        detector=draw_detector_errors(levels, n_detectors, g),
    )


def draw_neuron_errors(levels: ErrorLevels, n: int, seed: SeedLike) -> NeuronErrors:
    """Per-neuron analog mismatch of a spiking chip (threshold and leak), drawn once."""
    g = make_generator(seed)
    return NeuronErrors(
        threshold_rel=(1.0 + _normal((n,), levels.threshold_mismatch, g)).clamp_min(0.05),
        leak_rel=(1.0 + _normal((n,), levels.leak_mismatch, g)).clamp_min(0.0),
    )
