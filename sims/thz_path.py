"""The THz beam path of a simulated station: synthesizer -> multiplier chain -> (diffractive
optics) -> detector on an XY stage -> lock-in (or a power meter).

World keys read (all written by other simulators):

* ``{source}.frequency`` (Hz), ``{source}.power_dbm``, ``{source}.output`` — the synthesizer
  (sims/keysight_e8257d.py and the R&S SGS100A simulator publish these);
* ``{stage}.position_fn`` — a callable ``fn(t) -> (x_mm, y_mm)`` at simulated time ``t``,
  published by the stage simulators (the detector sits at (0, 0) on the optical axis when the key
  is absent or ``stage`` is None);
* ``{lockin}.frequency`` — the lock-in's reference frequency, which drives the chopper unless
  ``chopper_hz`` names a free-running one.

Physics, in order:

1. **Multiplier chain** (no digital interface): ``f_out = factor * f_synth``; no output outside
   ``band``; output power from the chain's curve versus output frequency, either as saturated
   output power in dBm (``curve_unit="dBm"``; the chain then delivers ``P_max(f) * (1 -
   exp(-P_in / P_drive))``, saturating above the drive level ``drive_dbm``) or as conversion
   efficiency (``curve_unit="efficiency"``: ``P_out = eta(f) * P_in``). The *true* curve differs
   from the nominal (datasheet) curve by a smooth hidden ripple in dB drawn once from
   ``world.rng`` (size from the world's error preset: none 0 dB, mild 0.5 dB, severe 1.5 dB, or
   ``error_db``); calibration is what finds it.
2. **Optics** (optional): a :class:`~hilt.sims.physics.DiffractiveStack` built from a setup
   preset (``"thz"`` = the 0.4 mm-pixel THz D2NN geometry) on a small grid (default 32 x 32),
   made physical with ``.with_errors(world.errors, seed)``; a Gaussian beam enters it and the
   output intensity is computed at the source's wavelength. ``illumination: plane`` lights it
   with a collimated plane wave over the whole grid instead (one watt across the grid), and
   :meth:`ThzPath.mount` places an **object** (an amplitude mask in the input plane) and
   **printed layers given as their heights** (metres) in the beam: the simulated stand-in for a
   person mounting printed parts. The world's hidden errors of the stack (height errors,
   quantisation, shift, rotation, tilt, gaps) apply to the mounted layers as to its own. The normalised intensity (per watt)
   is cached per frequency and mask version, so changing only the power costs nothing. Without
   optics the beam is a Gaussian of radius ``beam_radius_mm`` on the detector plane.
3. **Detector** (pyroelectric or Golay cell): the power through its aperture at the stage
   position, times its responsivity (with a hidden gain error), rolled off above its thermal
   corner frequency (``R / sqrt(1 + (f/f_c)^2)``, phase lag ``atan(f/f_c)``), plus a hidden
   pickup ("dark") phasor and noise (NEP and the preset's detector noise). A chopper (square
   wave, 0 to P) makes the lock-in see the fundamental: RMS amplitude ``sqrt(2)/pi * R * P``.

``detector_power(x_mm, y_mm)`` is the power (W) reaching the detector centred at (x, y).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from hilt.errors import ConfigError

SPEED_OF_LIGHT = 299_792_458.0
#: RMS of the fundamental of a 0..1 square wave.
SQUARE_FUNDAMENTAL_RMS = math.sqrt(2.0) / math.pi
#: Hidden multiplier ripple (dB std) per world error preset.
MULTIPLIER_ERROR_DB = {"none": 0.0, "mild": 0.5, "severe": 1.5}

DETECTOR_KINDS: dict[str, dict[str, float]] = {
    # Current-mode THz pyroelectric head: modest responsivity, slow thermal corner.
    "pyro": {"responsivity_v_per_w": 1.0e3, "aperture_mm": 5.0, "nep_w_per_rthz": 5e-9,
             "corner_hz": 10.0, "full_scale_w": 1e-3},
    # Golay cell (opto-acoustic): high responsivity, low NEP, ~20 Hz corner, 6 mm window.
    "golay": {"responsivity_v_per_w": 1.0e5, "aperture_mm": 6.0, "nep_w_per_rthz": 1.4e-10,
              "corner_hz": 20.0, "full_scale_w": 1e-5},
}


def optics_setup(preset: str = "thz", shape: int | list[int] | tuple[int, int] = 32) -> tuple[Any, tuple[int, int]]:
    """The diffractive setup of a THz path's ``optics`` (``preset``: ``"thz"``, the 0.4 mm-pixel
    D2NN geometry, or a name of :data:`hilt.sims.physics.SETUPS`) and its grid (rows, cols)."""
    from hilt.sims import physics

    setups = {"thz": physics.THZ_0P4, **physics.SETUPS}
    if preset not in setups:
        raise ConfigError(f"optics preset {preset!r}: expected one of {sorted(setups)}")
    n = (int(shape), int(shape)) if isinstance(shape, int) else (int(shape[0]), int(shape[1]))
    return setups[preset], n


def dbm_to_w(dbm: float) -> float:
    return 1e-3 * 10.0 ** (dbm / 10.0)


class Multiplier:
    """A frequency multiplier chain: factor, output band, nominal curve and the true curve."""

    def __init__(self, rng: np.random.Generator, *, factor: int = 1, band: list[float] | None = None,
                 curve: list[list[float]] | None = None, curve_unit: str | None = None,
                 drive_dbm: float = 10.0, error_db: float = 0.0) -> None:
        if int(factor) < 1:
            raise ConfigError(f"multiplier factor {factor}: must be a positive integer")
        self.factor = int(factor)
        self.band = (float(band[0]), float(band[1])) if band else None
        if curve:
            pts = np.asarray(sorted((float(f), float(v)) for f, v in curve))
            self.curve_f, self.curve_v = pts[:, 0], pts[:, 1]
            unit = curve_unit or ("efficiency" if np.all((self.curve_v > 0) & (self.curve_v <= 1)) else "dBm")
        else:
            self.curve_f = self.curve_v = None
            unit = curve_unit or "efficiency"
        if unit.lower() not in ("dbm", "efficiency"):
            raise ConfigError(f"multiplier curve_unit {unit!r}: expected 'dBm' or 'efficiency'")
        self.curve_unit = "dBm" if unit.lower() == "dbm" else "efficiency"
        self.drive_w = dbm_to_w(drive_dbm)
        # Hidden ripple: an offset plus three slow sinusoids across the band (dB); drawn even at
        # zero size so that a preset change does not reshuffle other draws.
        lo, hi = self.band or ((self.curve_f[0], self.curve_f[-1]) if self.curve_f is not None else (0.0, 1.0))
        self._span = (lo, max(hi - lo, 1.0))
        z = rng.standard_normal(4)
        self._ripple = (error_db * z[0], error_db / math.sqrt(3) * z[1:4], 2 * math.pi * rng.random(3))

    def output_frequency(self, f_in: float) -> float:
        return self.factor * f_in

    def in_band(self, f_out: float) -> bool:
        return self.band is None or self.band[0] <= f_out <= self.band[1]

    def ripple_db(self, f_out: float) -> float:
        """The hidden error of the true curve against the nominal one, dB."""
        offset, amps, phases = self._ripple
        u = (f_out - self._span[0]) / self._span[1]
        return float(offset + np.sum(amps * np.sin(2 * math.pi * np.arange(1, 4) * u / 2 + phases)))

    def nominal_power(self, f_out: float, p_in_w: float) -> float:
        """Output power (W) the datasheet curve predicts."""
        if p_in_w <= 0 or not self.in_band(f_out):
            return 0.0
        if self.curve_f is None:
            return p_in_w
        value = float(np.interp(f_out, self.curve_f, self.curve_v))
        if self.curve_unit == "efficiency":
            return max(value, 0.0) * p_in_w
        return dbm_to_w(value) * (1.0 - math.exp(-p_in_w / self.drive_w))

    def true_power(self, f_out: float, p_in_w: float) -> float:
        return self.nominal_power(f_out, p_in_w) * 10.0 ** (self.ripple_db(f_out) / 10.0)


class _Optics:
    """The diffractive stack between source and detector, evaluated per frequency."""

    def __init__(self, world: Any, name: str, *, preset: str = "thz", layers: int = 3,
                 shape: int | list[int] = 32, kind: str | None = None, spacing_m: float | None = None,
                 beam_radius_mm: float = 4.0, errors: str | None = None, cache_size: int = 8,
                 illumination: str = "gaussian") -> None:
        setup, n = optics_setup(preset, shape)
        if spacing_m is not None:
            import dataclasses
            setup = dataclasses.replace(setup, spacing=float(spacing_m))
        seeds = world.rng(f"{name}.optics").integers(0, 2**31, size=2)
        self.setup = setup
        self.twin = setup.build(int(layers), kind=kind, seed=int(seeds[0]), shape=n)
        self.device = self.twin.with_errors(errors or world.errors, int(seeds[1]))
        self.shape = n
        self.pitch_mm = setup.pitch * 1e3
        self.beam_radius_mm = float(beam_radius_mm)
        if illumination not in ("gaussian", "plane"):
            raise ConfigError(f"optics illumination {illumination!r}: expected 'gaussian' or 'plane'")
        self.illumination = illumination
        self.object: np.ndarray | None = None  # amplitude transmission of the mounted object
        self._object_version = 0
        self._cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _input_field(self) -> Any:
        import torch

        ny, nx = self.shape
        if self.illumination == "plane":
            amp = torch.full((ny, nx), 1.0 / math.sqrt(ny * nx), dtype=torch.float64)
        else:
            y = (torch.arange(ny, dtype=torch.float64) - (ny - 1) / 2) * self.pitch_mm
            x = (torch.arange(nx, dtype=torch.float64) - (nx - 1) / 2) * self.pitch_mm
            r2 = y[:, None] ** 2 + x[None, :] ** 2
            amp = torch.exp(-r2 / self.beam_radius_mm**2)  # |E|^2 ~ exp(-2 r^2 / w^2)
            amp = amp / torch.sqrt((amp**2).sum())  # one watt in
        if self.object is not None:  # what the object passes of the watt that lights it
            amp = amp * torch.as_tensor(self.object, dtype=torch.float64)
        return amp.to(torch.complex64)

    def mount(self, object: np.ndarray | None = None, heights: Any = None) -> None:
        """Place an object (amplitude transmission, the grid's shape, values in [0, 1]) and/or
        printed layers (one height map per layer, metres) in the beam; None leaves that part."""
        import torch

        with self._lock:
            if heights is not None:
                if len(heights) != len(self.twin.masks):
                    raise ConfigError(f"mount: {len(heights)} height maps for {len(self.twin.masks)} layers")
                for mask, h in zip(self.twin.masks, heights, strict=True):
                    if not (hasattr(mask, "raw") and hasattr(mask, "max_height")):
                        raise ConfigError("mount: printed heights need height masks (optics kind: height)")
                    v = torch.as_tensor(np.asarray(h, dtype=np.float32))
                    if tuple(v.shape) != tuple(mask.shape):
                        raise ConfigError(f"mount: a {tuple(v.shape)} height map for a {tuple(mask.shape)} layer")
                    if bool((v < 0).any()) or bool((v > mask.max_height * (1 + 1e-6)).any()):
                        raise ConfigError(f"mount: printed heights are within 0..{mask.max_height:g} m "
                                          f"(this stack's layers), got {float(v.min()):g}..{float(v.max()):g} m")
                    # Heights are stored through a sigmoid; heights at the bounds stay finite.
                    frac = (v / mask.max_height).clamp(1e-6, 1.0 - 1e-6)
                    with torch.no_grad():
                        mask.raw.copy_(torch.logit(frac))
            if object is not None:
                obj = np.asarray(object, dtype=np.float64)
                if obj.shape != self.shape:
                    raise ConfigError(f"mount: a {obj.shape} object for a {self.shape} input plane")
                if np.any(obj < 0) or np.any(obj > 1):
                    raise ConfigError("mount: an object's amplitude transmission is within [0, 1]")
                self.object = obj.copy()
                self._object_version += 1

    def _version(self) -> tuple[int, ...]:
        # In-place optimiser steps bump a tensor's version: masks changed -> recompute.
        return tuple(p._version for p in self.twin.parameters())

    def intensity_per_watt(self, frequency: float) -> np.ndarray:
        """Output-plane intensity (fraction of the input power per pixel) at ``frequency``."""
        import torch

        from hilt.sims.physics import DiffractiveStack

        key = (round(float(frequency), 3), self._version(), self._object_version)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            d = self.device
            stack = DiffractiveStack(list(d.masks), d.distances, d.pitch, SPEED_OF_LIGHT / frequency,
                                     None, d.padding, d.max_angle, d.errors, 0)
            with torch.no_grad():
                out = stack.output_field(self._input_field()).abs().square().double().numpy()
            self._cache[key] = out
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return out

    def density(self, frequency: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Intensity (fraction per mm^2) at points (mm), bilinear between pixel centres."""
        img = self.intensity_per_watt(frequency) / self.pitch_mm**2
        ny, nx = img.shape
        fx = xs / self.pitch_mm + (nx - 1) / 2
        fy = ys / self.pitch_mm + (ny - 1) / 2
        padded = np.pad(img, 1)  # zero outside the last layer's aperture
        fx, fy = np.clip(fx + 1, 0, nx + 1), np.clip(fy + 1, 0, ny + 1)
        x0 = np.clip(np.floor(fx).astype(int), 0, nx)
        y0 = np.clip(np.floor(fy).astype(int), 0, ny)
        tx, ty = fx - x0, fy - y0
        return ((1 - ty) * ((1 - tx) * padded[y0, x0] + tx * padded[y0, x0 + 1])
                + ty * ((1 - tx) * padded[y0 + 1, x0] + tx * padded[y0 + 1, x0 + 1]))


class ThzPath:
    """The beam path from synthesizer to detector; see the module docstring."""

    QUADRATURE = 15  # points per axis over the detector aperture
    #: Options that name instruments of the station (checked when the station file is read).
    instrument_options = ("source", "stage", "lockin")

    def __init__(self, world: Any, *, name: str = "thz", source: str = "synth",
                 multiplier: dict[str, Any] | None = None, stage: str | None = None,
                 optics: dict[str, Any] | None = None, detector: dict[str, Any] | None = None,
                 lockin: str | None = "lockin", chopper_hz: float | None = None,
                 beam_radius_mm: float = 4.0) -> None:
        from hilt.sims.physics import draw_detector_errors, error_levels

        self.world = world
        self.name = name
        self.source = source
        self.stage = stage
        self.lockin = lockin
        self.chopper_hz = None if chopper_hz is None else float(chopper_hz)
        self.beam_radius_mm = float(beam_radius_mm)
        try:
            levels = error_levels(world.errors)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        mult = dict(multiplier or {})
        error_db = float(mult.pop("error_db", MULTIPLIER_ERROR_DB.get(world.errors, 0.0)))
        try:
            self.multiplier = Multiplier(world.rng(f"{name}.multiplier"), error_db=error_db, **mult)
        except TypeError as exc:
            raise ConfigError(f"{name}.multiplier: {exc}") from None
        self.optics = None
        if optics:
            opts = {"beam_radius_mm": self.beam_radius_mm, **optics}
            try:
                self.optics = _Optics(world, name, **opts)
            except TypeError as exc:
                raise ConfigError(f"{name}.optics: {exc}") from None
        det = dict(detector or {})
        kind = det.pop("kind", "pyro")
        if kind not in DETECTOR_KINDS:
            raise ConfigError(f"{name}.detector.kind {kind!r}: expected one of {sorted(DETECTOR_KINDS)}")
        unknown = set(det) - set(DETECTOR_KINDS[kind])
        if unknown:
            raise ConfigError(f"{name}.detector: unknown options {sorted(unknown)}")
        self.detector_kind = kind
        self.detector = {**DETECTOR_KINDS[kind], **{k: float(v) for k, v in det.items()}}
        errs = draw_detector_errors(levels, 1, int(world.rng(f"{name}.detector").integers(0, 2**31)))
        rng = world.rng(f"{name}.detector.pickup")
        fs = self.detector["full_scale_w"] * self.detector["responsivity_v_per_w"]
        self._gain = float(errs.gain[0])
        self._dark = complex(float(errs.dark[0]) * fs * np.exp(2j * math.pi * rng.random()))
        self._extra_noise = float(errs.noise_std) * fs  # V/rtHz of the preset's readout noise
        self._chopper_phase = math.radians(float(rng.uniform(-20, 20)) if not levels.is_none else 0.0)
        q = (np.arange(self.QUADRATURE) + 0.5) / self.QUADRATURE - 0.5
        self._qx, self._qy = np.meshgrid(q, q)
        self._inside = self._qx**2 + self._qy**2 <= 0.25

    def mount(self, object: np.ndarray | None = None, heights: Any = None) -> None:
        """Place an object and/or printed layers (heights, metres) in the optics: what a person
        does on a real bench; see :meth:`_Optics.mount`. Needs ``optics`` in the station file."""
        if self.optics is None:
            raise ConfigError(f"{self.name}: no optics to mount an object or layers in (station file: optics)")
        self.optics.mount(object=object, heights=heights)

    # -- inputs from the world -------------------------------------------------------------------
    def source_state(self) -> tuple[float, float, bool]:
        """(frequency Hz, power dBm, output on) of the synthesizer."""
        w = self.world
        return (float(w.get(f"{self.source}.frequency", 0.0) or 0.0),
                float(w.get(f"{self.source}.power_dbm", -200.0)),
                bool(w.get(f"{self.source}.output", False)))

    def input_keys(self) -> list[str]:
        keys = [f"{self.source}.frequency", f"{self.source}.power_dbm", f"{self.source}.output"]
        if self.stage:
            keys.append(f"{self.stage}.position_fn")
        return keys

    def watch(self, fn: Callable[[str, Any], None]) -> None:
        """Call ``fn(key, value)`` whenever an input of the path changes (for filter events)."""
        for key in self.input_keys():
            self.world.watch(key, fn)

    def position(self, t: float | None = None) -> tuple[float, float]:
        """Detector position (mm) at simulated time ``t`` (now if None)."""
        if not self.stage:
            return (0.0, 0.0)
        fn = self.world.get(f"{self.stage}.position_fn")
        if fn is None:
            return (0.0, 0.0)
        if not callable(fn):
            return (float(fn[0]), float(fn[1]))
        x, y = fn(self.world.clock.now() if t is None else t)
        return (float(x), float(y))

    # -- the beam ----------------------------------------------------------------------------------
    def output_frequency(self) -> float:
        return self.multiplier.output_frequency(self.source_state()[0])

    def thz_power(self) -> float:
        """Power (W) leaving the multiplier chain."""
        f_in, p_dbm, on = self.source_state()
        if not on or f_in <= 0:
            return 0.0
        return self.multiplier.true_power(self.multiplier.output_frequency(f_in), dbm_to_w(p_dbm))

    def detector_power(self, x_mm: float = 0.0, y_mm: float = 0.0, aperture_mm: float | None = None) -> float:
        """Power (W) through a circular aperture (the detector's by default) centred at (x, y)."""
        power = self.thz_power()
        if power <= 0:
            return 0.0
        d = float(aperture_mm if aperture_mm is not None else self.detector["aperture_mm"])
        xs = x_mm + d * self._qx[self._inside]
        ys = y_mm + d * self._qy[self._inside]
        area = math.pi * d * d / 4.0
        if self.optics is not None:
            dens = self.optics.density(self.output_frequency(), xs, ys)
        else:
            w = self.beam_radius_mm
            dens = 2.0 / (math.pi * w * w) * np.exp(-2.0 * (xs**2 + ys**2) / (w * w))
        return power * float(np.mean(dens)) * area

    # -- the detector --------------------------------------------------------------------------
    def chop_frequency(self) -> float:
        if self.chopper_hz is not None:
            return self.chopper_hz
        return float(self.world.get(f"{self.lockin}.frequency", 0.0) or 0.0) if self.lockin else 0.0

    def _response(self, f: float) -> complex:
        """Detector responsivity (V/W) at chopping frequency ``f``, with its thermal lag."""
        fc = self.detector["corner_hz"]
        ratio = f / fc if fc > 0 else 0.0
        return self.detector["responsivity_v_per_w"] * self._gain / complex(1.0, ratio)

    def lockin_phasor(self, ref_hz: float, t: float | None = None) -> complex:
        """What a lock-in referenced at ``ref_hz`` (phase 0) sees: the RMS phasor (V) of the
        detector's fundamental, rotating at the beat if the chopper runs free at another rate."""
        t = self.world.clock.now() if t is None else t
        f_chop = self.chop_frequency()
        x, y = self.position(t)
        signal = SQUARE_FUNDAMENTAL_RMS * self.detector_power(x, y) * self._response(f_chop)
        signal = (signal + self._dark) * complex(math.cos(self._chopper_phase), math.sin(self._chopper_phase))
        beat = ref_hz - f_chop
        if self.chopper_hz is not None and beat != 0.0:
            signal *= complex(math.cos(-2 * math.pi * beat * t), math.sin(-2 * math.pi * beat * t))
        return signal

    def beat_hz(self, ref_hz: float) -> float:
        """Difference between the lock-in reference and the chopper (0 when locked)."""
        return 0.0 if self.chopper_hz is None else ref_hz - self.chopper_hz

    def noise_density(self) -> float:
        """Detector noise (V rms per sqrt(Hz)) at the lock-in input."""
        nep_v = self.detector["nep_w_per_rthz"] * self.detector["responsivity_v_per_w"]
        return math.hypot(nep_v, self._extra_noise)

    def state(self) -> dict[str, Any]:
        f_in, p_dbm, on = self.source_state()
        return {"output_frequency": self.multiplier.output_frequency(f_in), "thz_power_w": self.thz_power(),
                "position_mm": self.position(), "detector": self.detector_kind}
