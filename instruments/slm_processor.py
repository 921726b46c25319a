"""Device class: a diffractive layer on a phase SLM, read by a camera in the lens's Fourier plane.

The optical classifier of an SLM bench (laser -> SLM -> lens -> camera): each sample is one frame
on the SLM, its image phase-encoded (phase ``depth * pixel``, nearest-upsampled, centred) plus
the trained layer's phase mask (blocks of ``mask_block`` pixels over the whole panel); the light's
Fourier transform falls on the camera, and the outputs are the light in one small camera region
per class, placed through the calibrated SLM-to-camera geometry
(:mod:`hilt.loops.calibration.slm`) at chosen spatial frequencies.

A single pass through one SLM is one diffractive layer. A folded bench (the ``fold`` option of
:mod:`hilt.sims.slm_optics`, a mirror sending region 1's light back onto region 2 of the same
panel) has two: the layout's ``layers=2`` splits the panel's columns into two regions, the sample
is phase-encoded on region 1 together with layer 1's mask (the input plane is the first layer,
as in the one-layer bench: a phase-only SLM cannot show an amplitude image, and a separate input
region would cost a third pass), and region 2 shows layer 2's mask alone. ``n_layers`` is the
layout's ``layers``; :meth:`SlmCameraProcessor.load_masks` takes one mask per layer.

Readings are in units of the laser's light: a region's dark-subtracted sum divided by the light
of a uniform frame at the same exposure (:meth:`SlmCameraProcessor.prepare` measures it, per
second of exposure, so the processor may change the exposure between frames to keep the regions
unclipped without changing what a reading means). Every frame is a physical query: the SLM's
settle time and the camera's exposure on the bench's clock; :attr:`SlmCameraProcessor.timing`
adds them up next to the wall time.

Every frame a reading came from is kept for the run file (``record_frames``, on by default):
the camera's crop around the regions (their bounding box plus ``frame_margin`` pixels, the ROI
the camera reads), uint16, with its frame counter, timestamp, exposure and gain.
:meth:`SlmCameraProcessor.capture_specs` declares the ``frames`` capture stream and
:meth:`SlmCameraProcessor.take_frames` hands over what was taken since it was last called;
:func:`hilt.loops.core.run_epochs` does both, so training on the bench stores every frame.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hilt.instruments.mesh_processor import QueryCounter


@dataclass(frozen=True)
class SlmLayout:
    """Where a sample and the masks sit on the SLM.

    ``slm_shape`` (rows, cols); ``layers`` regions side by side, each ``cols / layers`` columns
    (region 1 on the left: where the beam lands first on a folded bench); a square image of
    ``image_side`` pixels a side, upsampled by ``upsample`` and centred on region 1; its phase is
    ``depth * value`` (values in [0, 1]); each layer's mask is ``region_shape / mask_block``
    blocks, each ``mask_block`` pixels a side, over its region."""

    slm_shape: tuple[int, int]
    image_side: int = 8
    upsample: int = 12
    depth: float = math.pi
    mask_block: int = 4
    layers: int = 1

    def __post_init__(self) -> None:
        h, w = self.slm_shape
        if self.layers < 1 or w % self.layers:
            raise ValueError(f"{self.layers} layer region(s) do not split a {h}x{w} SLM's columns")
        rh, rw = self.region_shape
        s = self.image_side * self.upsample
        if s > min(rh, rw):
            raise ValueError(f"{self.image_side}x{self.image_side} image upsampled {self.upsample}x ({s} px) does not "
                             f"fit a {rh}x{rw} SLM region")
        if rh % self.mask_block or rw % self.mask_block:
            raise ValueError(f"mask blocks of {self.mask_block} px do not tile a {rh}x{rw} SLM region")

    @property
    def region_shape(self) -> tuple[int, int]:
        """(rows, cols) of one layer's region of the panel."""
        return self.slm_shape[0], self.slm_shape[1] // self.layers

    @property
    def n_features(self) -> int:
        return self.image_side * self.image_side

    @property
    def mask_shape(self) -> tuple[int, int]:
        rh, rw = self.region_shape
        return rh // self.mask_block, rw // self.mask_block

    @staticmethod
    def features(inputs: np.ndarray) -> np.ndarray:
        """Encoded inputs (B, F), any scale (the loops' amplitude encoding) -> values in [0, 1]
        (each row over its largest magnitude)."""
        a = np.abs(np.asarray(inputs))
        return a / np.maximum(a.max(axis=1, keepdims=True), 1e-30)

    def input_phase(self, features: np.ndarray) -> np.ndarray:
        """Features (B, F) in [0, 1] -> phases (B, rows, cols) on the SLM (0 around the image,
        which is centred on region 1)."""
        x = np.asarray(features, dtype=np.float64)
        b = len(x)
        img = x.reshape(b, self.image_side, self.image_side)
        img = np.repeat(np.repeat(img, self.upsample, axis=1), self.upsample, axis=2)
        h, w = self.slm_shape
        rh, rw = self.region_shape
        s = img.shape[1]
        out = np.zeros((b, h, w))
        y0, x0 = (rh - s) // 2, (rw - s) // 2
        out[:, y0:y0 + s, x0:x0 + s] = img
        return self.depth * out

    def mask_full(self, mask: np.ndarray) -> np.ndarray:
        """A mask of :attr:`mask_shape` blocks -> phases (rows, cols) on its region."""
        m = np.asarray(mask, dtype=np.float64)
        if m.shape != self.mask_shape:
            raise ValueError(f"mask of shape {m.shape}, the layout's is {self.mask_shape}")
        return np.repeat(np.repeat(m, self.mask_block, axis=0), self.mask_block, axis=1)

    def masks_full(self, masks: Sequence[np.ndarray]) -> np.ndarray:
        """One mask per layer -> the panel's phases (rows, cols), region 1 on the left."""
        if len(masks) != self.layers:
            raise ValueError(f"expected {self.layers} mask(s) (one per layer), got {len(masks)}")
        return np.concatenate([self.mask_full(m) for m in masks], axis=1)


@dataclass(frozen=True)
class CameraRegions:
    """One square box per output on the camera: ``boxes[k] = (row0, col0, size, size)`` in
    full-sensor pixels, with the spatial frequencies (cycles per SLM pixel) they were placed at."""

    boxes: np.ndarray
    frequencies: np.ndarray

    @property
    def n(self) -> int:
        return len(self.boxes)

    def roi(self, margin: int = 0) -> tuple[int, int, int, int]:
        """The camera ROI ``(x, y, width, height)`` holding every box."""
        r0 = int(self.boxes[:, 0].min()) - margin
        c0 = int(self.boxes[:, 1].min()) - margin
        r1 = int((self.boxes[:, 0] + self.boxes[:, 2]).max()) + margin
        c1 = int((self.boxes[:, 1] + self.boxes[:, 3]).max()) + margin
        return c0, r0, c1 - c0, r1 - r0

    def pixels(self) -> np.ndarray:
        """(P, 3): (region, row, col) of every pixel of every box, full-sensor coordinates."""
        out = []
        for k, (r0, c0, h, w) in enumerate(self.boxes.astype(int)):
            rr, cc = np.mgrid[r0:r0 + h, c0:c0 + w]
            out.append(np.stack([np.full(rr.size, k), rr.ravel(), cc.ravel()], axis=1))
        return np.concatenate(out)

    def peak(self, image: np.ndarray, roi: tuple[int, int, int, int]) -> float:
        """The brightest pixel inside the boxes of an image taken with ``roi`` (x, y, w, h)."""
        x, y, _, _ = roi
        return max(float(image[r0 - y:r0 - y + h, c0 - x:c0 - x + w].max())
                   for r0, c0, h, w in self.boxes.astype(int))

    def read(self, image: np.ndarray, roi: tuple[int, int, int, int]) -> np.ndarray:
        """The sum of each box in an image taken with ``roi`` (x, y, w, h)."""
        x, y, _, _ = roi
        return np.array([float(image[r0 - y:r0 - y + h, c0 - x:c0 - x + w].sum())
                         for r0, c0, h, w in self.boxes.astype(int)])


def class_frequencies(camera_to_frequency: Callable[[np.ndarray], np.ndarray], camera_shape: tuple[int, int],
                      rows: Sequence[int] = (3, 4, 3), reach: float = 0.6) -> np.ndarray:
    """Spatial frequencies (sum(rows), 2) whose spots make a centred grid of ``rows`` on the camera,
    spanning ``reach`` of the sensor's half-size, through the geometry's inverse map."""
    h, w = camera_shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    pts = []
    for i, n in enumerate(rows):
        y = (i - (len(rows) - 1) / 2) / max(1, (len(rows) - 1) / 2) if len(rows) > 1 else 0.0
        for j in range(n):
            x = (j - (n - 1) / 2) / max(1, (max(rows) - 1) / 2) if n > 1 else 0.0
            pts.append(centre + reach * np.array([y * (h - 1) / 2, x * (w - 1) / 2]))
    return camera_to_frequency(np.array(pts))


def regions_at(frequency_to_camera: Callable[[np.ndarray], np.ndarray], frequencies: np.ndarray,
               camera_shape: tuple[int, int], size: int = 5) -> CameraRegions:
    """Boxes of ``size`` pixels centred on the camera positions of ``frequencies``."""
    pos = frequency_to_camera(np.asarray(frequencies, dtype=np.float64))
    boxes = np.c_[np.rint(pos - (size - 1) / 2).astype(int), np.full((len(pos), 2), size)]
    h, w = camera_shape
    if boxes[:, 0].min() < 0 or boxes[:, 1].min() < 0 or (boxes[:, 0] + size).max() > h or (boxes[:, 1] + size).max() > w:
        raise ValueError("a camera region falls off the sensor: lower the regions' reach")
    return CameraRegions(boxes, np.asarray(frequencies, dtype=np.float64))


@dataclass
class BenchTiming:
    """What the processor's queries cost: frames shown, the bench's own time per frame (SLM
    settle + exposure + readout on the bench's clock, from the devices' timestamps) and wall time."""

    frames: int = 0
    timed: int = 0  # frames whose bench time is known (a frame after another of the same batch)
    bench_s: float = 0.0
    wall_s: float = 0.0
    settle_s: float = 0.0
    exposure_s: float = 0.0
    retakes: int = 0

    def per_frame(self) -> dict[str, float]:
        n = max(1, self.frames)
        return {"frames": float(self.frames), "bench_s": self.bench_s / max(1, self.timed), "wall_s": self.wall_s / n,
                "settle_s": self.settle_s / n, "exposure_s": self.exposure_s / n}


@dataclass
class SlmCameraProcessor:
    """The SLM bench as a diffractive processor (the calls :mod:`hilt.loops.slm_bench` makes).

    ``slm`` and ``camera`` are instruments of the SLM and camera kinds; ``dark(exposure_s)``
    returns the camera's dark frame (full sensor) when a ``camera_dark_flat`` table is known,
    else the black level is taken from a uniform frame's median. ``fill``: the brightest pixel
    of the regions is kept between ``fill / 4`` and ``fill`` of full scale (the exposure is
    changed between batches, or a frame whose regions clip is retaken at half the exposure).
    ``record_frames``: keep each reading's camera crop for :meth:`take_frames` (at most
    ``max_pending`` frames wait; older ones are dropped and counted in ``frames_dropped``);
    ``frame_margin``: pixels of the crop around the regions' bounding box.
    """

    slm: Any
    camera: Any
    layout: SlmLayout
    regions: CameraRegions
    dark: Callable[[float], np.ndarray] | None = None
    fill: float = 0.7
    timeout: float = 5.0
    on_frame: Callable[[np.ndarray, Any], None] | None = None
    queries: QueryCounter = field(default_factory=QueryCounter)
    timing: BenchTiming = field(default_factory=BenchTiming)
    n_layers: int = field(default=1, init=False)  # the layout's layers
    measures_internal: bool = False
    record_frames: bool = True
    frame_margin: int = 8
    max_pending: int = 4096

    def __post_init__(self) -> None:
        self.shape = tuple(self.layout.slm_shape)
        self.n_ports = self.layout.n_features
        self.n_outputs = self.regions.n
        self.n_layers = self.layout.layers
        self._masks = [np.zeros(self.layout.mask_shape) for _ in range(self.n_layers)]
        self._rate: float | None = None  # uniform frame's light, DN per second of exposure
        self._black: float | np.ndarray = 0.0
        self._roi = self._crop()
        self._pending: deque[tuple[np.ndarray, tuple[float, float, float, float]]] = deque(maxlen=self.max_pending)
        self.frames_dropped = 0
        self.name = f"{getattr(self.slm, 'name', 'slm')}+{getattr(self.camera, 'name', 'camera')}"

    def _crop(self) -> tuple[int, int, int, int]:
        """The camera ROI (x, y, width, height): the regions' bounding box plus the margin, on the sensor."""
        x, y, w, h = self.regions.roi(max(0, int(self.frame_margin)))
        rows, cols = (int(v) for v in self.camera.shape)
        x0, y0 = max(0, x), max(0, y)
        return x0, y0, min(cols, x + w) - x0, min(rows, y + h) - y0

    # -- the frames, for the run file ---------------------------------------------------------------
    #: The per-frame columns of the ``frames`` stream's ``inputs`` field.
    FRAME_COLUMNS = ("counter", "timestamp_s", "exposure_s", "gain_db")

    def capture_specs(self) -> dict[str, Any]:
        """The capture stream the frames go to: ``frames``, with ``physical`` the crop (rows,
        cols) uint16 DN (gzip, one frame per chunk) and ``inputs`` the frame's
        :attr:`FRAME_COLUMNS` (float64). Empty when ``record_frames`` is off."""
        if not self.record_frames:
            return {}
        from hilt.runfile.layout import CaptureSpec

        _, _, w, h = self._roi
        return {"frames": CaptureSpec(input_shape=(len(self.FRAME_COLUMNS),), input_dtype="float64",
                                      physical_shape=(h, w), physical_dtype="uint16", compression="gzip",
                                      chunk_rows=16, physical_unit="DN")}

    def frames_info(self) -> dict[str, Any]:
        """What the run's config says about the ``frames`` stream: the crop's place on the sensor."""
        if not self.record_frames:
            return {}
        x, y, w, h = self._roi
        return {"frames": {"stream": "frames", "crop_xywh": [x, y, w, h], "inputs_columns": list(self.FRAME_COLUMNS),
                           "region_boxes_rc": self.regions.boxes.astype(int).tolist(),
                           "camera": getattr(self.camera, "name", "camera")}}

    def take_frames(self) -> dict[str, dict[str, np.ndarray]]:
        """The frames taken since the last call, as capture fields of their stream
        (``{"frames": {"physical": (N, rows, cols) uint16, "inputs": (N, 4)}}``), or ``{}``."""
        if not self._pending:
            return {}
        items = list(self._pending)
        self._pending.clear()
        return {"frames": {"physical": np.stack([im for im, _ in items]),
                           "inputs": np.array([meta for _, meta in items], dtype=np.float64)}}

    def _keep(self, frame: Any) -> None:
        if not self.record_frames:
            return
        if len(self._pending) == self._pending.maxlen:
            self.frames_dropped += 1
        image = np.asarray(frame.image)
        self._pending.append((image.astype(np.uint16, copy=True),
                              (float(frame.counter), float(frame.timestamp_s), float(frame.exposure_s),
                               float(frame.gain_db))))

    # -- setup ----------------------------------------------------------------------------------
    @property
    def _full_scale(self) -> float:
        return float((1 << int(self.camera.bit_depth)) - 1)

    def _grab(self) -> tuple[np.ndarray, Any]:
        self.camera.trigger()
        frame = self.camera.grab(self.timeout)
        return np.asarray(frame.image, dtype=np.float64), frame

    def _dark(self, roi: tuple[int, int, int, int]) -> float | np.ndarray:
        if self.dark is None:
            return self._black
        x, y, w, h = roi
        return self.dark(float(self.camera.exposure.get()))[y:y + h, x:x + w]

    def prepare(self) -> None:
        """Measure the uniform frame's light per second of exposure (full sensor, exposure set
        so its zeroth order fills half the range), then read only the regions' ROI."""
        cam = self.camera
        rows, cols = (int(v) for v in cam.shape)
        if int(cam.binning.get()) != 1:
            cam.binning.set(1)
        cam.set_roi(0, 0, cols, rows)
        self.slm.show_grey(np.zeros(self.shape, dtype=np.int64))
        cam.flush()
        lo, hi = parameter_bounds(cam.exposure)
        for _ in range(8):
            img, _ = self._grab()
            top = float(img.max())
            t = float(cam.exposure.get())
            if top < 0.9 * self._full_scale and top > 0.2 * self._full_scale:
                break
            factor = 0.3 if top >= 0.9 * self._full_scale else 0.5 * self._full_scale / max(top - np.median(img), 1.0)
            cam.exposure.set(float(min(max(t * factor, lo), hi)))
        self._black = float(np.median(img))
        full = (0, 0, cols, rows)
        light = float((img - self._dark(full)).sum())
        if light <= 0:
            from hilt.errors import ConfigError

            raise ConfigError(f"{self.name}: no light on the camera (is the laser on?)")
        self._rate = light / float(cam.exposure.get())
        # The regions see a small share of the light: start well above the uniform exposure.
        cam.exposure.set(float(min(max(float(cam.exposure.get()) * 20.0, lo), hi)))
        cam.set_roi(*self._roi)
        cam.flush()

    # -- the processor --------------------------------------------------------------------------
    def load_masks(self, masks: Sequence[np.ndarray]) -> None:
        """One mask per layer (:attr:`SlmLayout.mask_shape` each), shown with every sample from now on."""
        if len(masks) != self.n_layers:
            raise ValueError(f"expected {self.n_layers} mask(s) (one per SLM pass), got {len(masks)}")
        ms = [np.asarray(m, dtype=np.float64) for m in masks]
        for m in ms:
            if m.shape != self.layout.mask_shape:
                raise ValueError(f"mask of shape {m.shape}, the layout's is {self.layout.mask_shape}")
        self._masks = [m.copy() for m in ms]
        self.queries.programming_calls += 1

    load_phases = load_masks

    def frame_phase(self, inputs: np.ndarray) -> np.ndarray:
        """The phases (B, rows, cols) the SLM shows for encoded inputs (B, F) with the mask now."""
        return self.layout.input_phase(self.layout.features(inputs)) + self.layout.masks_full(self._masks)[None]

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """One frame per sample: readings (B, regions) in units of the uniform frame's light."""
        if self._rate is None:
            self.prepare()
        t0 = time.perf_counter()
        cam = self.camera
        phases = self.frame_phase(np.asarray(inputs))
        out = np.zeros((len(phases), self.regions.n))
        lo, hi = parameter_bounds(cam.exposure)
        brightest = 0.0
        last_ts: float | None = None
        for b, ph in enumerate(phases):
            self.slm.show_phase(ph)
            cam.flush()
            while True:
                img, frame = self._grab()
                # Only the regions count: the zeroth order between them may clip.
                top = self.regions.peak(img, self._roi)
                if top < self._full_scale or float(cam.exposure.get()) <= lo:
                    break
                cam.exposure.set(max(lo, float(cam.exposure.get()) / 2))  # clipped: again, shorter
                self.timing.retakes += 1
            exposure = float(frame.exposure_s)
            sums = self.regions.read(img - self._dark(self._roi), self._roi)
            out[b] = sums / (self._rate * exposure)
            brightest = max(brightest, top)
            self.timing.frames += 1
            self._keep(frame)
            # Frame to frame on the bench's clock: the SLM's transfer and settle, the exposure, the readout.
            if last_ts is not None:
                self.timing.bench_s += float(frame.timestamp_s) - last_ts
                self.timing.timed += 1
            last_ts = float(frame.timestamp_s)
            self.timing.exposure_s += exposure
            self.timing.settle_s += float(getattr(self.slm, "settle_s", 0.0))
            if self.on_frame is not None:
                self.on_frame(img, frame)
        # Keep the next batch's brightest pixel inside [fill / 4, fill] of full scale.
        if brightest < 0.25 * self.fill * self._full_scale or brightest > self.fill * self._full_scale:
            target = 0.5 * self.fill * self._full_scale
            t = float(cam.exposure.get()) * target / max(brightest - float(np.mean(self._black)), 1.0)
            cam.exposure.set(float(min(max(t, lo), hi)))
        dt = time.perf_counter() - t0
        self.timing.wall_s += dt
        self.queries.samples += len(phases)
        self.queries.calls += 1
        self.queries.seconds += dt
        return out, []

    def safe_state(self) -> None:
        """The SLM's zero frame and the camera stopped (the laser is the station's to switch off)."""
        self.slm.safe_state()
        self.camera.safe_state()


def parameter_bounds(param: Any) -> tuple[float, float]:
    """A BoundParameter's accepted range (its validator's, narrowed by its soft limits)."""
    lo, hi = 1e-6, 10.0
    vals = getattr(param, "vals", None)
    rng = getattr(vals, "range", None) if vals is not None else None
    if rng is not None:
        lo, hi = float(rng[0]), float(rng[1])
    soft = getattr(param, "soft_limits", None)
    if soft is not None:
        lo, hi = max(lo, float(soft[0])), min(hi, float(soft[1]))
    return lo, hi


__all__ = ["BenchTiming", "CameraRegions", "SlmCameraProcessor", "SlmLayout", "class_frequencies", "parameter_bounds", "regions_at"]
