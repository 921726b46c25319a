"""A camera sensor after the EMVA 1288 linear model: light in, digital numbers out.

EMVA Standard 1288 (Release 4.0, "Standard for Characterization of Image Sensors and Cameras")
describes a linear camera by a handful of numbers, and this model is exactly that, per pixel:

- photons: ``mu_p = P t_exp lambda / (h c)`` for the optical power ``P`` (W) on the pixel over
  the exposure ``t_exp`` (s);
- electrons: Poisson with mean ``eta mu_p`` (quantum efficiency ``eta``), times the pixel's
  photo-response non-uniformity ``(1 + PRNU_i)``;
- dark signal: ``mu_d = mu_d0 + I_dark t_exp`` electrons; the thermally generated part is
  Poisson, the read noise Gaussian with std ``sigma_d0`` electrons;
- the charge is clipped at the full-well capacity;
- digital numbers: ``y = K (electrons) + offset + DSNU_i``, rounded (quantisation noise
  ``1/12`` DN^2), clipped to ``[0, 2^bits - 1]``.

So below saturation the mean and the temporal variance of a pixel are (EMVA 1288 eqs. 2-5)::

    mu_y      = K (eta mu_p (1 + PRNU_i) + mu_d0 + I_dark t_exp) + offset + DSNU_i
    sigma_y^2 = K^2 (sigma_d0^2 + I_dark t_exp + eta mu_p (1 + PRNU_i)) + 1/12

:meth:`CameraSensor.expected` and :meth:`CameraSensor.temporal_variance` give them, and the tests
check the simulated frames against them. PRNU (relative, std ``prnu``) and DSNU (DN, std
``dsnu``) are the fixed-pattern errors, drawn once from the seed and frozen; every frame draws
fresh shot, dark and read noise from its own generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PLANCK = 6.62607015e-34
SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True)
class SensorSpec:
    """The EMVA 1288 numbers of a sensor (defaults: a typical 12-bit CMOS machine-vision camera)."""

    shape: tuple[int, int] = (480, 640)
    pixel_pitch: float = 5.86e-6          # m
    quantum_efficiency: float = 0.65      # eta, at the wavelength used
    gain: float = 0.1                     # K, DN per electron (system gain at gain setting 0 dB)
    dark_offset: float = 25.0             # DN, the black level
    read_noise: float = 6.0               # sigma_d0, electrons
    dark_current: float = 15.0            # I_dark, electrons per second
    dark_signal_0: float = 0.0            # mu_d0, electrons
    full_well: float = 32_000.0           # electrons
    bits: int = 12
    prnu: float = 0.01                    # std of the relative photo-response non-uniformity
    dsnu: float = 1.5                     # std of the dark-signal non-uniformity, DN
    exposure_range: tuple[float, float] = (20e-6, 10.0)  # s
    gain_db_range: tuple[float, float] = (0.0, 24.0)

    @property
    def max_dn(self) -> int:
        return (1 << self.bits) - 1


@dataclass
class CameraSensor:
    """A sensor with its fixed pattern frozen from ``seed`` (an int or a numpy Generator)."""

    spec: SensorSpec = field(default_factory=SensorSpec)
    seed: int | np.random.Generator = 0

    def __post_init__(self) -> None:
        fixed = self.seed if isinstance(self.seed, np.random.Generator) else np.random.default_rng(self.seed)
        self.prnu_map = fixed.normal(0.0, self.spec.prnu, self.spec.shape)
        self.dsnu_map = fixed.normal(0.0, self.spec.dsnu, self.spec.shape)
        # Per-frame noise from its own stream, so the fixed pattern does not depend on how many
        # frames were taken.
        self._noise = np.random.default_rng(fixed.integers(2**63))

    def photons(self, power_w: np.ndarray, exposure_s: float, wavelength_m: float) -> np.ndarray:
        """Mean photons per pixel during the exposure, from the optical power per pixel (W)."""
        return np.asarray(power_w, dtype=np.float64) * exposure_s * wavelength_m / (PLANCK * SPEED_OF_LIGHT)

    def _k(self, gain_db: float) -> float:
        return self.spec.gain * 10.0 ** (gain_db / 20.0)

    def expected(self, photons: np.ndarray, exposure_s: float, gain_db: float = 0.0) -> np.ndarray:
        """Mean digital number per pixel (EMVA 1288, below saturation, before clipping)."""
        s = self.spec
        electrons = s.quantum_efficiency * np.asarray(photons) * (1.0 + self.prnu_map)
        dark = s.dark_signal_0 + s.dark_current * exposure_s
        return self._k(gain_db) * (electrons + dark) + s.dark_offset + self.dsnu_map

    def temporal_variance(self, photons: np.ndarray, exposure_s: float, gain_db: float = 0.0) -> np.ndarray:
        """Temporal variance (DN^2) per pixel, below saturation: shot, dark, read and
        quantisation noise."""
        s = self.spec
        electrons = s.quantum_efficiency * np.asarray(photons) * (1.0 + self.prnu_map)
        k = self._k(gain_db)
        return k * k * (s.read_noise**2 + s.dark_current * exposure_s + electrons) + 1.0 / 12.0

    def expose(self, photons: np.ndarray, exposure_s: float, gain_db: float = 0.0) -> np.ndarray:
        """One frame (uint16 digital numbers) for mean ``photons`` per pixel."""
        s = self.spec
        rng = self._noise
        photons = np.broadcast_to(np.asarray(photons, dtype=np.float64), s.shape)
        mean_e = np.clip(s.quantum_efficiency * photons * (1.0 + self.prnu_map), 0.0, None)
        electrons = rng.poisson(mean_e).astype(np.float64)
        dark_thermal = rng.poisson(s.dark_current * exposure_s, s.shape).astype(np.float64)
        electrons = electrons + dark_thermal + s.dark_signal_0 + rng.normal(0.0, s.read_noise, s.shape)
        electrons = np.minimum(electrons, s.full_well)
        dn = self._k(gain_db) * electrons + s.dark_offset + self.dsnu_map
        # Rounding to the nearest code is the quantisation noise (uniform, 1/12 DN^2).
        return np.clip(np.rint(dn), 0, s.max_dn).astype(np.uint16)
