"""The SLM bench of a simulated station: laser -> phase SLM -> Fourier lens -> camera.

A world system (``kind: slm_optics``) joining three simulators:

* the laser (option ``laser``, a ``tunable_laser`` simulator such as ``keysight_8164b``) publishes
  ``<laser>.wavelength`` (m), ``<laser>.power_w`` (W) and ``<laser>.output``; with ``laser: null``
  a fixed laser of ``power_w`` at ``wavelength_m``, always on, lights the SLM;
* the SLM simulator (``hilt.sims.slm``, model ``hilt_slm``) hands every frame it shows to
  :meth:`SlmOptics.show` with the simulated time it arrived;
* the camera simulator (``hilt.sims.camera``, model ``hilt_camera``) asks :meth:`SlmOptics.expose`
  for a frame over an exposure window.

Physics, in order:

1. **Illumination**: a Gaussian beam of 1/e^2 radius ``beam_waist_m`` (default 0.35 of the
   panel's smaller side) centred on the panel, carrying the laser's power times
   ``10^(-attenuation_db / 10)`` (the ND filters every camera bench has).
2. **The SLM** (:class:`hilt.sims.physics.slm.SLMPanel`): grey levels -> phase through the panel's
   true response (full-scale phase not 2 pi, a bent curve with ripple), fringing between pixels,
   the liquid crystal settling exponentially after each frame on the world's simulated clock,
   a fixed low-order aberration. Phases scale as ``wavelength_design / wavelength`` when the
   laser runs off the panel's design wavelength.
3. **Optics** (``optics``): ``fourier`` (default), a lens of focal length ``focal_length_m``
   with the camera in its back focal plane: the field on the camera is the Fourier transform of
   the SLM field, evaluated at each camera pixel's centre by a matrix DFT (exact for any pixel
   pitch, no padding), times the envelope of one square SLM pixel,
   ``sinc(p u / (lambda f)) sinc(p v / (lambda f))``; or ``free_space``, no lens: the camera
   ``distance_m`` behind the SLM sees the field propagated by the band-limited angular spectrum
   method (:class:`hilt.sims.physics.diffraction.Propagator`, on the SLM's pixel grid padded so
   nothing wraps), its intensity sampled at the camera's pixel centres (bilinear). Power is
   conserved up to the light the camera's sensor does not catch.
   With a ``diffuser`` (``{"correlation_px": c, "phase_rms": r}``), a scattering plate imaged
   onto the SLM (the wavefront-shaping geometry of Vellekoop and Mosk) adds a frozen random phase
   screen, Gaussian-correlated over ``c`` SLM pixels with RMS ``r`` rad (default 1 px, 2 pi): the
   camera then sees speckle, which the SLM can focus again.
4. **Camera placement**: the sensor's centre sits off the optical axis by a hidden
   ``(dx, dy)``, and the true focal length (or distance) differs from the nominal by a hidden
   relative error: the affine map from SLM spatial frequency to camera pixels that a geometry
   calibration finds. (The sensor is not rotated: its rows stay parallel to the SLM's.)
5. **The sensor** (:class:`hilt.sims.physics.camera.CameraSensor`, EMVA 1288): photons from the
   power on each pixel over the exposure, shot noise, dark signal growing with exposure, read
   noise, gain, full well, ADC bits, PRNU and DSNU.

**A folded bench** (option ``fold``, ``{"distance_m": d}``; Fourier optics only): two layers on
one panel, as labs build a multi-layer diffractive network on a single SLM. The panel's columns
are split in two equal regions; the beam (centred on region 1, the left half) takes region 1's
phase, travels ``d`` of free space to a flat mirror parallel to the panel and back (a fold
keeps the transverse coordinates: the unfolded path is plain propagation over ``d``, by the
band-limited angular spectrum method), lands on region 2 (the right half), takes its phase, and
goes through the lens to the camera. Light that misses region 2's aperture is lost. Hidden
fold errors: region 2 sits off the spot where region 1's light lands by a lateral
misregistration ``fold_shift_px`` (rows, cols; SLM pixels, std ``FOLD_SHIFT_PX`` per unit of
error scale, a sub-pixel shift of the field) and the path is ``d (1 + fold_distance_error)``
(std ``FOLD_DISTANCE_ERROR``). Both regions share the panel's LUT, fringing, settling and its
one aberration (each region sees its own part of it).

Hidden errors (SLM response, fringing, aberration, camera offset and focal-length error, the
fold's misregistration and distance error, the sensor's fixed pattern) are drawn once from the world's seed and scaled by the world's error
preset (``none``: an ideal bench, the twin's; ``mild``: the sizes of :class:`SLMSpec`'s
defaults; ``severe``: twice those), or by the option ``errors`` (a preset name or a number).
An exposure during which the liquid crystal is still moving (a pixel more than 0.1 rad from its
target) sees the mean of the intensities at the start, middle and end of the window; otherwise
the intensity at its middle.
"""

from __future__ import annotations

import math
import threading
from dataclasses import fields, replace
from typing import Any, ClassVar

import numpy as np

from hilt.errors import ConfigError
from hilt.sims.physics.camera import CameraSensor, SensorSpec
from hilt.sims.physics.slm import SLMPanel, SLMSpec

#: Scale of the hidden errors per world error preset (1: SLMSpec's default sizes).
ERROR_SCALE = {"none": 0.0, "mild": 1.0, "severe": 2.0}
#: Defaults of this bench: a telecom phase SLM region (8 um pixels, 8 bit, 1550 nm, e.g. the
#: PLUTO-2 TELCO class) and an InGaAs camera region (5 um pixels, 12 bit, e.g. Sony SenSWIR).
SLM_DEFAULTS: dict[str, Any] = {"shape": (128, 128), "pixel_pitch": 8e-6, "bits": 8, "wavelength": 1550e-9,
                                "settle_tau": 10e-3}
SENSOR_DEFAULTS: dict[str, Any] = {"shape": (240, 320), "pixel_pitch": 5e-6, "quantum_efficiency": 0.7,
                                   "bits": 12}
#: SLMSpec fields that are hidden errors (scaled by the preset; fringing: pixel crosstalk).
HIDDEN_SLM_ERRORS = ("fringing", "range_error", "gamma_error", "ripple", "aberration")
#: Hidden camera placement per unit of error scale: lateral offset (m, std) and relative focal
#: length error (std).
CAMERA_OFFSET_M = 20e-6
FOCAL_ERROR = 0.01
#: Hidden fold errors per unit of error scale: region 2's lateral misregistration (SLM pixels,
#: std per axis) and the fold path's relative length error (std).
FOLD_SHIFT_PX = 1.0
FOLD_DISTANCE_ERROR = 0.02
PLANCK_C = 6.62607015e-34 * 299_792_458.0


def _spec(cls: type, defaults: dict[str, Any], options: dict[str, Any] | None, where: str) -> Any:
    known = {f.name for f in fields(cls)}
    given = dict(options or {})
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    merged = {**defaults, **given}
    for key in ("shape", "exposure_range", "gain_db_range"):
        if key in merged and merged[key] is not None:
            merged[key] = tuple(merged[key])
    return cls(**merged)


def _error_scale(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not value >= 0:
            raise ConfigError(f"{where}: errors {value!r}: a scale must be >= 0")
        return float(value)
    if value in ERROR_SCALE:
        return ERROR_SCALE[value]
    from hilt.sims.physics.errors import PRESETS

    if value in PRESETS:
        return 1.0  # another bench's preset (MZI, diffractive): this bench at its mild level
    raise ConfigError(f"{where}: errors {value!r}: expected one of {', '.join(ERROR_SCALE)} or a number")


class SlmOptics:
    """Laser -> SLM -> lens -> camera; see the module docstring."""

    #: Options that name instruments of the station (checked when the station file is read).
    instrument_options: ClassVar[tuple[str, ...]] = ("laser",)

    def __init__(self, world: Any, *, name: str = "bench", laser: str | None = "laser",
                 power_w: float = 1e-3, wavelength_m: float = 1550e-9, attenuation_db: float = 60.0,
                 focal_length_m: float = 0.05, optics: str = "fourier", distance_m: float = 0.05,
                 beam_waist_m: float | None = None, diffuser: dict[str, float] | None = None,
                 slm: dict[str, Any] | None = None, camera: dict[str, Any] | None = None,
                 errors: str | float | None = None, fold: dict[str, float] | None = None) -> None:
        self.world = world
        self.name = name
        self.laser = laser
        self.fixed_power_w = float(power_w)
        self.fixed_wavelength_m = float(wavelength_m)
        self.attenuation_db = float(attenuation_db)
        self.focal_length_m = float(focal_length_m)
        if not self.focal_length_m > 0:
            raise ConfigError(f"{name}.focal_length_m {focal_length_m!r}: must be > 0")
        if optics not in ("fourier", "free_space"):
            raise ConfigError(f"{name}.optics {optics!r}: expected fourier or free_space")
        self.optics = optics
        self.distance_m = float(distance_m)
        if not self.distance_m > 0:
            raise ConfigError(f"{name}.distance_m {distance_m!r}: must be > 0")
        self._propagators: dict[float, Any] = {}
        #: (wavelength, DFT matrices, envelope) of the last wavelength used (a laser sweep rebuilds).
        self._dft: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None
        scale = _error_scale(world.errors if errors is None else errors, f"{name}")
        self.error_scale = scale
        base = SLMSpec()
        nominal = _spec(SLMSpec, SLM_DEFAULTS, slm, f"{name}.slm")
        # The hidden errors' sizes follow the preset unless the station file gives them.
        scaled = {key: getattr(base, key) * scale for key in HIDDEN_SLM_ERRORS if key not in (slm or {})}
        self.slm_spec = replace(
            nominal, **scaled,
            beam_waist=beam_waist_m if beam_waist_m is not None else 0.35 * min(nominal.shape) * nominal.pixel_pitch)
        self.sensor_spec = _spec(SensorSpec, SENSOR_DEFAULTS, camera, f"{name}.camera")
        self.panel = SLMPanel(self.slm_spec, seed=world.rng(f"{name}.slm"))
        self.sensor = CameraSensor(self.sensor_spec, seed=world.rng(f"{name}.camera"))
        g = world.rng(f"{name}.placement")
        self.camera_offset_m = tuple(float(v) for v in g.normal(0.0, CAMERA_OFFSET_M * scale, 2))  # (dx, dy)
        self.focal_error = float(g.normal(0.0, FOCAL_ERROR * scale))
        self.diffuser_phase = self._diffuser(diffuser) if diffuser is not None else None
        self.fold_distance_m: float | None = None
        self.fold_shift_px = (0.0, 0.0)
        self.fold_distance_error = 0.0
        if fold is not None:
            self._setup_fold(fold, scale)
        self._lock = threading.RLock()
        self._frames = 0
        self._jump = 0.0

    def _diffuser(self, options: dict[str, float]) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        unknown = sorted(set(options) - {"correlation_px", "phase_rms"})
        if unknown:
            raise ConfigError(f"{self.name}.diffuser: unknown option(s) {', '.join(unknown)} "
                              "(known: correlation_px, phase_rms)")
        corr = float(options.get("correlation_px", 1.0))
        rms = float(options.get("phase_rms", 2 * math.pi))
        if not (corr >= 0 and rms >= 0):
            raise ConfigError(f"{self.name}.diffuser: correlation_px and phase_rms must be >= 0")
        screen = self.world.rng(f"{self.name}.diffuser").normal(0.0, 1.0, self.slm_spec.shape)
        if corr > 0:
            screen = gaussian_filter(screen, corr, mode="wrap")
        return screen * (rms / (float(np.std(screen)) or 1.0))

    def _setup_fold(self, options: dict[str, float], scale: float) -> None:
        unknown = sorted(set(options) - {"distance_m"})
        if unknown:
            raise ConfigError(f"{self.name}.fold: unknown option(s) {', '.join(unknown)} (known: distance_m)")
        distance = float(options.get("distance_m", 5e-3))
        if not distance > 0:
            raise ConfigError(f"{self.name}.fold.distance_m {distance!r}: must be > 0")
        if self.optics != "fourier":
            raise ConfigError(f"{self.name}.fold: a folded bench ends in the Fourier lens (optics: fourier)")
        if self.diffuser_phase is not None:
            raise ConfigError(f"{self.name}.fold: not with a diffuser")
        if self.slm_spec.shape[1] % 2:
            raise ConfigError(f"{self.name}.fold: the panel's {self.slm_spec.shape[1]} columns do not split in two regions")
        self.fold_distance_m = distance
        g = self.world.rng(f"{self.name}.fold")
        self.fold_shift_px = tuple(float(v) for v in g.normal(0.0, FOLD_SHIFT_PX * scale, 2))  # (rows, cols)
        self.fold_distance_error = float(g.normal(0.0, FOLD_DISTANCE_ERROR * scale))

    @property
    def region_shape(self) -> tuple[int, int]:
        """The shape of the panel's part the light takes its last phase from (the camera's)."""
        rows, cols = self.slm_spec.shape
        return (rows, cols // 2) if self.fold_distance_m is not None else (rows, cols)

    # -- what the SLM simulator calls --------------------------------------------------------------
    def show(self, grey: np.ndarray, t: float) -> None:
        """A new frame of grey levels on the panel at simulated time ``t``."""
        with self._lock:
            self.panel.show(grey, t)
            # How far the liquid crystal has to go (rad, the largest pixel's move): what decides
            # whether an exposure sees it still moving.
            self._jump = float(np.max(np.abs(self.panel._old - self.panel.phase_at(math.inf)))) if grey.size else 0.0
            self._frames += 1

    def shown(self) -> np.ndarray:
        return self.panel.shown

    # -- the light -----------------------------------------------------------------------------------
    def laser_state(self) -> tuple[float, float]:
        """(power W, wavelength m) reaching the SLM before the attenuator; 0 W when off."""
        if self.laser is None:
            return self.fixed_power_w, self.fixed_wavelength_m
        w = self.world
        on = bool(w.get(f"{self.laser}.output", False))
        power = float(w.get(f"{self.laser}.power_w", 0.0) or 0.0)
        wavelength = float(w.get(f"{self.laser}.wavelength", self.slm_spec.wavelength) or self.slm_spec.wavelength)
        return (power if on else 0.0), wavelength

    def slm_field(self, t: float, power_w: float, wavelength_m: float) -> np.ndarray:
        """Complex field leaving the SLM at ``t``: sqrt(W) per SLM pixel."""
        illum = self.panel.illumination()
        share = illum**2 / float(np.sum(illum**2))
        phase = self.panel.phase_at(t) * (self.slm_spec.wavelength / wavelength_m) + self.panel.aberration_map
        if self.diffuser_phase is not None:
            phase = phase + self.diffuser_phase
        return np.sqrt(power_w * share) * np.exp(1j * phase)

    def folded_field(self, t: float, power_w: float, wavelength_m: float) -> np.ndarray:
        """Complex field leaving region 2 of a folded bench at ``t`` (sqrt(W) per SLM pixel): the
        beam on region 1, its phase, the fold (propagation, misregistration), region 2's phase."""
        import torch

        from hilt.sims.physics.diffraction import Propagator

        s = self.slm_spec
        rows, n = self.region_shape
        y = (np.arange(rows) - (rows - 1) / 2) * s.pixel_pitch
        x = (np.arange(n) - (n - 1) / 2) * s.pixel_pitch
        illum = np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / s.beam_waist**2)
        share = illum**2 / float(np.sum(illum**2))
        phase = self.panel.phase_at(t) * (s.wavelength / wavelength_m) + self.panel.aberration_map
        u1 = np.sqrt(power_w * share) * np.exp(1j * phase[:, :n])
        distance = float(self.fold_distance_m) * (1.0 + self.fold_distance_error)  # type: ignore[arg-type]
        key = (wavelength_m, distance)
        prop = self._propagators.get(key)  # type: ignore[call-overload]
        if prop is None:
            prop = Propagator((rows, n), s.pixel_pitch, wavelength_m, distance)
            self._propagators = {key: prop}  # type: ignore[dict-item]
        with torch.no_grad():
            out = prop(torch.as_tensor(u1, dtype=torch.complex128), crop=False).numpy()
        # Region 2 sees the light at (its pixel + misregistration): shift the padded plane by
        # the misregistration (Fourier shift, exact for the sampled field; the plane is padded
        # so nothing wraps into the aperture) and take the aperture.
        dr, dc = self.fold_shift_px
        if dr or dc:
            fr = np.fft.fftfreq(out.shape[0])[:, None]
            fc = np.fft.fftfreq(out.shape[1])[None, :]
            out = np.fft.ifft2(np.fft.fft2(out) * np.exp(2j * math.pi * (fr * dr + fc * dc)))
        return out[:rows, :n] * np.exp(1j * phase[:, n:])

    def _dft_matrices(self, wavelength_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(A_rows, A_cols, envelope): the matrix DFT from SLM pixels (of the region the light
        leaves last) to camera pixel centres and the single-pixel sinc envelope, in units where
        the camera pixel powers come out in W."""
        s, c = self.slm_spec, self.sensor_spec
        f = self.focal_length_m * (1.0 + self.focal_error)
        dx, dy = self.camera_offset_m
        p, pc = s.pixel_pitch, c.pixel_pitch
        (n_rows, n_cols), (m_rows, m_cols) = self.region_shape, c.shape
        y_slm = (np.arange(n_rows) - (n_rows - 1) / 2) * p
        x_slm = (np.arange(n_cols) - (n_cols - 1) / 2) * p
        v_cam = (np.arange(m_rows) - (m_rows - 1) / 2) * pc - dy
        u_cam = (np.arange(m_cols) - (m_cols - 1) / 2) * pc - dx
        k = 2 * math.pi / (wavelength_m * f)
        a_rows = np.exp(-1j * k * np.outer(v_cam, y_slm))
        a_cols = np.exp(-1j * k * np.outer(x_slm, u_cam))
        # One SLM pixel radiates sinc^2 of its width; the amplitude per camera pixel of a point
        # source of sqrt(P) is sqrt(P) * p * pc / (lambda f) (Fraunhofer, power conserved).
        envelope = (np.sinc(p * v_cam / (wavelength_m * f))[:, None] * np.sinc(p * u_cam / (wavelength_m * f))[None, :])
        envelope = envelope * (p * pc / (wavelength_m * f))
        return a_rows, a_cols, envelope

    def camera_power(self, t: float) -> np.ndarray:
        """Optical power (W) on each camera pixel at simulated time ``t`` (full sensor)."""
        power, wavelength = self.laser_state()
        power *= 10.0 ** (-self.attenuation_db / 10.0)
        if power <= 0:
            return np.zeros(self.sensor_spec.shape)
        with self._lock:
            if self.fold_distance_m is not None:
                field = self.folded_field(t, power, wavelength)
            else:
                field = self.slm_field(t, power, wavelength)
        if self.optics == "free_space":
            return self._free_space_power(field, wavelength)
        if self._dft is None or self._dft[0] != wavelength:
            self._dft = (wavelength, *self._dft_matrices(wavelength))
        _, a_rows, a_cols, envelope = self._dft
        u = (a_rows @ field @ a_cols) * envelope
        return np.abs(u) ** 2

    def _free_space_power(self, field: np.ndarray, wavelength_m: float) -> np.ndarray:
        """Camera pixel powers (W) ``distance_m`` (times the hidden error) behind the SLM."""
        import torch
        from scipy.ndimage import map_coordinates

        from hilt.sims.physics.diffraction import Propagator

        s, c = self.slm_spec, self.sensor_spec
        prop = self._propagators.get(wavelength_m)
        if prop is None:
            prop = Propagator(s.shape, s.pixel_pitch, wavelength_m, self.distance_m * (1.0 + self.focal_error))
            self._propagators = {wavelength_m: prop}
        with torch.no_grad():
            out = prop(torch.as_tensor(field, dtype=torch.complex128), crop=False).numpy()
        # The SLM sits in the top-left corner of the padded plane and light spreads around it
        # circularly: roll it to the centre, then W per SLM pixel area -> W per camera pixel.
        (n_rows, n_cols), (w_rows, w_cols) = s.shape, out.shape
        shift = ((w_rows - n_rows) // 2, (w_cols - n_cols) // 2)
        density = np.roll(np.abs(out) ** 2, shift, axis=(0, 1)) * (c.pixel_pitch / s.pixel_pitch) ** 2
        dx, dy = self.camera_offset_m
        rows = ((np.arange(c.shape[0]) - (c.shape[0] - 1) / 2) * c.pixel_pitch - dy) / s.pixel_pitch
        cols = ((np.arange(c.shape[1]) - (c.shape[1] - 1) / 2) * c.pixel_pitch - dx) / s.pixel_pitch
        rr, cc = np.meshgrid(rows + (n_rows - 1) / 2 + shift[0], cols + (n_cols - 1) / 2 + shift[1], indexing="ij")
        return map_coordinates(density, [rr, cc], order=1, mode="constant", cval=0.0)

    #: Phase (rad) the liquid crystal may still have to move at an exposure's start for the
    #: exposure to be computed from one field (at its middle): the intensity's error from the
    #: motion is then of the order of this squared (1 %).
    SETTLED_RAD: ClassVar[float] = 0.1

    def residual(self, t: float) -> float:
        """The largest phase (rad) any pixel still has to move at simulated time ``t``."""
        dt = t - self.panel._t_frame
        if not math.isfinite(dt) or self.slm_spec.settle_tau <= 0:
            return 0.0
        return self._jump * math.exp(-max(dt, 0.0) / self.slm_spec.settle_tau)

    def settling(self, t: float) -> bool:
        """True while some pixel is more than :attr:`SETTLED_RAD` away from its target at ``t``."""
        return self.residual(t) > self.SETTLED_RAD

    def expose(self, t: float, exposure_s: float, gain_db: float) -> np.ndarray:
        """One full-sensor frame (uint16 DN) exposed over ``[t, t + exposure_s]``."""
        times = (t, t + exposure_s / 2, t + exposure_s) if self.settling(t) else (t + exposure_s / 2,)
        power = np.mean([self.camera_power(ti) for ti in times], axis=0)
        _, wavelength = self.laser_state()
        photons = self.sensor.photons(power, exposure_s, wavelength)
        return self.sensor.expose(photons, exposure_s, gain_db)

    # -- what a test or a calibration compares with ---------------------------------------------
    def spot_shift_px(self, grating_period_px: float, axis: str = "x") -> float:
        """Nominal camera-pixel shift of the first order of a blazed grating of this period (SLM
        pixels) along ``axis`` (what the twin predicts: nominal focal length, laser at the design
        wavelength)."""
        _, wavelength = self.laser_state()
        return wavelength * self.focal_length_m / (grating_period_px * self.slm_spec.pixel_pitch
                                                    * self.sensor_spec.pixel_pitch)

    def state(self) -> dict[str, Any]:
        power, wavelength = self.laser_state()
        out = {"laser_power_w": power, "wavelength_m": wavelength, "frames_shown": self._frames}
        if self.fold_distance_m is not None:
            out["fold_distance_m"] = self.fold_distance_m
        return out
