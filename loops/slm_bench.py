"""In-situ training on an SLM bench: a phase layer on the SLM, class regions on a Fourier-plane camera.

The device is :class:`~hilt.instruments.slm_processor.SlmCameraProcessor` (one frame per sample:
the digit phase-encoded plus the trained mask; the light in one camera region per class). The
twin, :class:`SlmTwin`, is the bench as its calibrations describe it: the measured beam waist
(Gaussian illumination, centred), the phases the LUT promises, the Fourier transform evaluated at
every pixel of every region through the measured affine map (SLM spatial frequency -> camera
pixel), one SLM pixel's sinc envelope, and Parseval's normalisation (a region's reading is its
share of the uniform frame's light, the processor's unit). What it does not know is what the
bench has and its calibrations do not say: the panel's aberration, the fringing field between
pixels (optionally given, ``fringing_px`` from the LUT calibration), what remains of the LUT's
error, the camera's noise and fixed pattern.

Methods (the diffractive loops' names): ``insilico`` (twin only, then deployed on the bench),
``pat`` (measured outputs forward, twin Jacobian backward), ``dat`` (dual adaptive training with
one error-prediction network on the layer, :class:`FrameCorrection`: a small convolution of the
shown phase, which can learn the fringing, plus a phase map, which can learn the aberration, and
a log-amplitude map for the illumination), all through
:func:`hilt.loops.core.run_epochs` (run file, checkpoints, faults, progress). Every training
frame's region readings go to the run file (``capture_samples`` is the batch size), and every
frame the camera took for a reading (training and evaluation) to the run file's ``frames``
stream (the processor's ``record_frames``, on by default; the run's ``config["frames"]`` says
where the crop sits on the sensor).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilt.instruments.slm_processor import CameraRegions, SlmCameraProcessor, SlmLayout

from .core import (
    LoopControl,
    LoopResult,
    ProgressCallback,
    TrainSettings,
    head_and_phase_optimizer,
    run_epochs,
    start_model,
)
from .dat import DATSettings, similarity_loss
from .data import Dataset
from .head import ClassifierHead, make_head, task_loss
from .pat import substitute


class SlmTwin(nn.Module):
    """The bench's model (see the module docstring): encoded inputs (B, F) -> region readings.

    ``matrix`` (2, 2) and ``offset`` (2,): the affine map, camera (row, col) = offset + matrix @ f;
    ``beam_waist_px``: the beam's 1/e^2 intensity radius on the SLM; ``fringing_px``: the width
    of the Gaussian smoothing of the shown phase (0: none).

    A folded bench (``layout.layers == 2``) needs ``fold_distance_m``, ``pixel_pitch_m`` and
    ``wavelength_m``: the beam (centred on region 1) takes region 1's phase, propagates over the
    nominal fold distance (band-limited angular spectrum, :class:`hilt.sims.physics.Propagator`),
    takes region 2's phase exactly where it lands (the twin knows no misregistration), and the
    lens maps region 2's field onto the regions. Layer 1's mask is :attr:`mask`, layer 2's
    :attr:`mask2`."""

    def __init__(self, layout: SlmLayout, regions: CameraRegions, matrix: np.ndarray, offset: np.ndarray,
                 beam_waist_px: float, fringing_px: float = 0.0, *, fold_distance_m: float | None = None,
                 pixel_pitch_m: float | None = None, wavelength_m: float | None = None) -> None:
        super().__init__()
        self.layout = layout
        self.n_outputs = regions.n
        self.fringing_px = float(fringing_px)
        self.layers = int(layout.layers)
        if self.layers not in (1, 2):
            raise ValueError(f"{self.layers} layers: the bench has one or two (a folded bench)")
        h, w = layout.region_shape
        self.mask = nn.Parameter(torch.zeros(layout.mask_shape))
        self.propagator: nn.Module | None = None
        if self.layers == 2:
            if not (fold_distance_m and pixel_pitch_m and wavelength_m):
                raise ValueError("a two-layer (folded) twin needs fold_distance_m, pixel_pitch_m and wavelength_m")
            from hilt.sims.physics.diffraction import Propagator

            self.mask2 = nn.Parameter(torch.zeros(layout.mask_shape))
            self.propagator = Propagator((h, w), float(pixel_pitch_m), float(wavelength_m), float(fold_distance_m))
        y = np.arange(h) - (h - 1) / 2
        x = np.arange(w) - (w - 1) / 2
        illum = np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / beam_waist_px**2)
        illum /= math.sqrt(float(np.sum(illum**2)))  # unit power on the SLM
        px = regions.pixels()
        inv = np.linalg.inv(np.asarray(matrix, dtype=np.float64))
        f = (px[:, 1:].astype(np.float64) - np.asarray(offset, dtype=np.float64)) @ inv.T  # (P, 2) cycles/px
        # Share of the power per camera pixel: |DTFT|^2 times the frequency area one pixel spans
        # (Parseval over the unit cell), times one SLM pixel's sinc^2 envelope.
        area = abs(float(np.linalg.det(inv)))
        env = np.sinc(f[:, 0]) * np.sinc(f[:, 1]) * math.sqrt(area)
        yy, xx = np.meshgrid(y, x, indexing="ij")
        arg = -2 * math.pi * (np.outer(yy.ravel(), f[:, 0]) + np.outer(xx.ravel(), f[:, 1]))
        # One layer: the beam is on the region the lens sees; two: it is on region 1, and the
        # kernel takes region 2's field as it comes.
        lit = illum.ravel()[:, None] if self.layers == 1 else 1.0
        kernel = (lit * np.exp(1j * arg)) * env[None, :]
        self.register_buffer("kernel", torch.as_tensor(kernel.astype(np.complex64)))
        sums = np.zeros((len(px), regions.n), dtype=np.float32)
        sums[np.arange(len(px)), px[:, 0]] = 1.0
        self.register_buffer("sums", torch.as_tensor(sums))
        self.register_buffer("illum", torch.as_tensor(illum.astype(np.float32)))

    def masks(self) -> list[nn.Parameter]:
        """The layers' masks, layer 1 first."""
        return [self.mask] if self.layers == 1 else [self.mask, self.mask2]

    def input_phase(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded inputs (B, F) -> their phases on the SLM (B, rows, cols) (the layout's encoding)."""
        lay = self.layout
        a = x.abs() if x.is_complex() else x.abs()
        a = a / a.amax(dim=1, keepdim=True).clamp_min(1e-30)
        img = a.reshape(-1, 1, lay.image_side, lay.image_side).float()
        img = F.interpolate(img, scale_factor=lay.upsample, mode="nearest")[:, 0]
        h, w = lay.slm_shape
        rh, rw = lay.region_shape
        s = img.shape[-1]
        y0, x0 = (rh - s) // 2, (rw - s) // 2
        return lay.depth * F.pad(img, (x0, w - s - x0, y0, h - s - y0))

    def mask_full(self, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The masks' phases on the whole panel (rows, cols); with ``mask``, that one mask on its region."""
        b = self.layout.mask_block
        if mask is not None:
            return mask.repeat_interleave(b, 0).repeat_interleave(b, 1)
        return torch.cat([m.repeat_interleave(b, 0).repeat_interleave(b, 1) for m in self.masks()], dim=1)

    def shown_phase(self, x: torch.Tensor) -> torch.Tensor:
        """The phase the SLM is asked to show for each sample (B, rows, cols)."""
        return self.input_phase(x) + self.mask_full()[None]

    def readings(self, phase: torch.Tensor, log_amp: torch.Tensor | None = None) -> torch.Tensor:
        """Region readings (B, regions) for phases (B, rows, cols) on the SLM (and log-amplitudes
        of the light each pixel passes on, the error-prediction network's)."""
        if self.fringing_px > 0:
            phase = _gaussian_blur(phase, self.fringing_px)
        amp = torch.ones_like(phase) if log_amp is None else torch.exp(log_amp)
        if self.layers == 2:
            n = self.layout.region_shape[1]
            u1 = torch.polar(amp[..., :n] * self.illum, phase[..., :n])
            field = self.propagator(u1) * torch.polar(amp[..., n:], phase[..., n:])  # type: ignore[misc]
        else:
            field = torch.polar(amp, phase)
        u = field.reshape(len(phase), -1) @ self.kernel
        return u.abs().square() @ self.sums

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readings(self.shown_phase(x))


def _gaussian_blur(phase: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma * sigma))
    k = (k / k.sum()).to(phase.dtype)
    p = F.pad(phase[:, None], (r, r, r, r), mode="replicate")
    p = F.conv2d(p, k.view(1, 1, 1, -1))
    return F.conv2d(p, k.view(1, 1, -1, 1))[:, 0]


def polynomial_modes(shape: tuple[int, int], order: int, piston: bool = False) -> torch.Tensor:
    """Smooth modes over a panel region: the monomials ``x^i y^j`` (``x``, ``y`` in [-1, 1] across
    it) with ``1 <= i + j <= order`` (and the constant with ``piston``), orthonormalised over the
    pixels (Gram-Schmidt) and scaled to unit RMS, so a coefficient is radians (or nepers) RMS.
    They span the same space as the Zernike polynomials up to that radial order: an aberration
    of defocus, astigmatism and coma is order 3."""
    h, w = shape
    y, x = np.mgrid[-1:1:h * 1j, -1:1:w * 1j]
    raw = [x**i * y**(n - i) for n in range(0 if piston else 1, order + 1) for i in range(n + 1)]
    if not raw:
        return torch.zeros((0, h, w))
    a = np.stack([m.ravel() for m in raw], axis=1)
    q, _ = np.linalg.qr(a)
    modes = (q * math.sqrt(h * w)).T.reshape(-1, h, w)
    return torch.as_tensor(modes.astype(np.float32))


class FrameCorrection(nn.Module):
    """DAT's error-prediction network for one layer, acting on each frame the SLM shows:
    ``phase' = K * phase + d_phase``, ``log_amp' = d_log_amp`` (``K`` a ``kernel`` x ``kernel``
    convolution, the identity at start, which can learn the fringing field and a LUT's scale
    error; ``d_phase`` the aberration; ``d_log_amp`` the illumination's error; all zero at start).
    The frame's phase is the sample's plus the mask, so the correction stays valid while the mask
    is trained.

    ``phase_order`` / ``amp_order`` (``None``: free per-pixel maps, the first version): the maps
    are sums of :func:`polynomial_modes` up to that order, a few dozen numbers a batch of readings
    can pin down instead of two maps of every pixel (what a panel's low-order aberration and a
    Gaussian beam's wrong waist or centre need)."""

    def __init__(self, shape: tuple[int, int], kernel: int = 3, phase_order: int | None = None,
                 amp_order: int | None = None) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"kernel {kernel}: must be odd")
        k = torch.zeros(kernel, kernel)
        k[kernel // 2, kernel // 2] = 1.0
        self.kernel = nn.Parameter(k)
        self.phase_order, self.amp_order = phase_order, amp_order
        if phase_order is None:
            self.d_phase = nn.Parameter(torch.zeros(shape))
        else:
            self.register_buffer("phase_modes", polynomial_modes(shape, phase_order))
            self.phase_coeffs = nn.Parameter(torch.zeros(len(self.phase_modes)))
        if amp_order is None:
            self.d_log_amp = nn.Parameter(torch.zeros(shape))
        else:
            self.register_buffer("amp_modes", polynomial_modes(shape, amp_order, piston=True))
            self.amp_coeffs = nn.Parameter(torch.zeros(len(self.amp_modes)))

    def phase_map(self) -> torch.Tensor:
        if self.phase_order is None:
            return self.d_phase
        return torch.tensordot(self.phase_coeffs, self.phase_modes, dims=1)

    def log_amp_map(self) -> torch.Tensor:
        if self.amp_order is None:
            return self.d_log_amp
        return torch.tensordot(self.amp_coeffs, self.amp_modes, dims=1)

    def forward(self, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.kernel.shape[-1]
        p = F.conv2d(F.pad(phase[:, None], (k // 2,) * 4, mode="replicate"), self.kernel[None, None])[:, 0]
        return p + self.phase_map(), self.log_amp_map().expand_as(phase)


class SlmClassifier(nn.Module):
    """Twin + head, with the calls :func:`~hilt.loops.core.run_epochs` makes of a model."""

    def __init__(self, twin: SlmTwin, head: ClassifierHead) -> None:
        super().__init__()
        self.twin = twin
        self.head = head

    @property
    def n_ports(self) -> int:
        return self.twin.layout.n_features

    @property
    def n_outputs(self) -> int:
        return self.twin.n_outputs

    def phases(self) -> list[np.ndarray]:
        return mask_phases(self.twin)

    def phase_parameters(self) -> list[nn.Parameter]:
        return self.twin.masks()

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        return self.twin(x)

    def forward(self, x: torch.Tensor, method: str | None = None) -> torch.Tensor:
        return self.head(self.readout(x))


def _maker(head_name: str) -> Any:
    def make(twin: SlmTwin, n_classes: int, head: ClassifierHead | None) -> SlmClassifier:
        import copy

        t = copy.deepcopy(twin)
        for p in t.parameters():
            p.requires_grad_(True)
        h = copy.deepcopy(head) if head is not None else make_head(head_name, t.n_outputs, n_classes)
        return SlmClassifier(t, h)

    return make


def _settings(settings: TrainSettings) -> TrainSettings:
    # Every training frame's readings in the run file: a capture of each whole batch.
    return dataclasses.replace(settings, capture_every=1, capture_samples=max(settings.capture_samples,
                                                                               settings.batch_size))


def _frames_config(processor: SlmCameraProcessor | None) -> dict[str, Any]:
    info = getattr(processor, "frames_info", None)
    return dict(info()) if callable(info) else {}


def _start(twin: SlmTwin, data: Dataset, settings: TrainSettings, head: ClassifierHead | None,
           init_state: dict[str, Any] | None) -> SlmClassifier:
    return start_model(twin, data, settings, head, init_state, make=_maker(settings.head))


def train_slm_insilico(twin: SlmTwin, data: Dataset, settings: TrainSettings | None = None, *,
                       processor: SlmCameraProcessor | None = None, head: ClassifierHead | None = None,
                       init_state: dict[str, Any] | None = None, run_path: str | None = None,
                       resume: bool = False, control: LoopControl | None = None,
                       progress: ProgressCallback | None = None) -> LoopResult:
    """Train the twin's mask (+ head) on ``data``; with ``processor`` the result is deployed on
    the bench and its accuracy there reported."""
    settings = _settings(settings or TrainSettings())
    model = _start(twin, data, settings, head, init_state)
    opt = head_and_phase_optimizer(model, settings)  # type: ignore[arg-type]

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], None]:
        opt.zero_grad(set_to_none=True)
        loss = task_loss(model(x), y)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}, None

    return run_epochs("insilico", step, model=model, optimizers={"opt": opt},  # type: ignore[arg-type]
                      data=data, settings=settings, processor=processor, run_path=run_path,  # type: ignore[arg-type]
                      resume=resume, control=control, progress=progress, deploy_eval=processor is not None,
                      config={"system": "slm_bench", **_frames_config(processor)})


def train_slm_pat(processor: SlmCameraProcessor, twin: SlmTwin, data: Dataset,
                  settings: TrainSettings | None = None, *, head: ClassifierHead | None = None,
                  init_state: dict[str, Any] | None = None, run_path: str | None = None, resume: bool = False,
                  control: LoopControl | None = None, progress: ProgressCallback | None = None) -> LoopResult:
    """Physics-aware training on the bench: each batch shown once, the twin's Jacobian backward."""
    settings = _settings(settings or TrainSettings())
    model = _start(twin, data, settings, head, init_state)
    opt = head_and_phase_optimizer(model, settings)  # type: ignore[arg-type]

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], dict[str, Any]]:
        opt.zero_grad(set_to_none=True)
        processor.load_masks(model.phases())
        measured = torch.as_tensor(processor.run(x.numpy())[0], dtype=torch.float32)
        twin_out = model.readout(x)
        loss = task_loss(model.head(substitute(twin_out, measured)), y)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}, {"inputs": x.numpy(), "physical": measured.numpy(),
                                                 "twin": twin_out.detach().numpy()}

    return run_epochs("pat", step, model=model, optimizers={"opt": opt},  # type: ignore[arg-type]
                      data=data, settings=settings, processor=processor, run_path=run_path,  # type: ignore[arg-type]
                      resume=resume, control=control, progress=progress, config={"system": "slm_bench", **_frames_config(processor)})


@dataclasses.dataclass
class SlmDATSettings(DATSettings):
    """:class:`~hilt.loops.dat.DATSettings` with the layer's error-prediction network
    (:class:`FrameCorrection`, a ``kernel`` x ``kernel`` convolution and two maps)."""

    kernel: int = 3
    phase_order: int | None = 4
    amp_order: int | None = 2
    predictor_lr: float = 0.03
    predictor_steps: int = 2
    warmup_batches: int = 8
    warmup_steps: int = 10


def mask_phases(twin: SlmTwin) -> list[np.ndarray]:
    """The twin's layer masks as phases (rad, float64 copies): what a processor's ``load_masks``
    shows on the SLM."""
    return [m.detach().numpy().astype(np.float64).copy() for m in twin.masks()]


def corrected_readings(twin: SlmTwin, pred: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """The twin's readings with each layer's error-prediction network (:class:`FrameCorrection`,
    one per layer) applied to that layer's region of the shown frame: DAT's corrected twin."""
    n_cols = twin.layout.region_shape[1]
    shown = twin.shown_phase(x)
    parts = [p(shown[..., k * n_cols:(k + 1) * n_cols]) for k, p in enumerate(pred)]
    return twin.readings(torch.cat([ph for ph, _ in parts], dim=-1), torch.cat([la for _, la in parts], dim=-1))


def train_slm_dat(processor: SlmCameraProcessor, twin: SlmTwin, data: Dataset,
                  settings: SlmDATSettings | None = None, *, head: ClassifierHead | None = None,
                  init_state: dict[str, Any] | None = None, run_path: str | None = None, resume: bool = False,
                  control: LoopControl | None = None, progress: ProgressCallback | None = None) -> LoopResult:
    """Dual adaptive training on the bench: the predictor fitted to the measured readings
    (similarity loss), alternating with the task step through the corrected twin with the
    measured readings substituted."""
    settings = _settings(settings or SlmDATSettings())
    model = _start(twin, data, settings, head, init_state)
    layout = model.twin.layout
    # One error-prediction network per layer, each on its own region of the frame.
    pred = nn.ModuleList([FrameCorrection(layout.region_shape, settings.kernel, settings.phase_order,
                                          settings.amp_order) for _ in range(layout.layers)])
    opt = head_and_phase_optimizer(model, settings)  # type: ignore[arg-type]
    opt_p = torch.optim.Adam(pred.parameters(), lr=float(settings.predictor_lr or 0.03))
    from .core import encode

    x_all = encode(data, model.n_ports, settings.input_power)[0]
    warm_gen = torch.Generator().manual_seed(int(settings.seed) + 1)

    def measure(x: torch.Tensor) -> torch.Tensor:
        processor.load_masks(model.phases())
        return torch.as_tensor(processor.run(x.numpy())[0], dtype=torch.float32)

    def fit(x: torch.Tensor, meas: torch.Tensor, steps: int) -> tuple[float, float]:
        for m in model.twin.masks():
            m.requires_grad_(False)
        first = float("nan")
        try:
            for k in range(steps):
                opt_p.zero_grad(set_to_none=True)
                loss = similarity_loss(corrected_readings(model.twin, pred, x), meas)
                loss.backward()
                opt_p.step()
                if k == 0:
                    first = float(loss.detach())
            with torch.no_grad():
                last = float(similarity_loss(corrected_readings(model.twin, pred, x), meas))
        finally:
            for m in model.twin.masks():
                m.requires_grad_(True)
        return first, last

    def step(x: torch.Tensor, y: torch.Tensor, step_no: int) -> tuple[dict[str, float], dict[str, Any]]:
        if step_no == 0 and settings.warmup_batches > 0:
            xs = x_all[torch.randperm(len(x_all), generator=warm_gen)]
            for xb in xs.split(settings.batch_size)[:settings.warmup_batches]:
                fit(xb, measure(xb), settings.warmup_steps)
        meas = measure(x)
        sim_before, sim_after = fit(x, meas, settings.predictor_steps)
        for p in pred.parameters():
            p.requires_grad_(False)
        try:
            opt.zero_grad(set_to_none=True)
            out = corrected_readings(model.twin, pred, x)
            loss = task_loss(model.head(substitute(out, meas)), y)
            loss.backward()
            opt.step()
        finally:
            for p in pred.parameters():
                p.requires_grad_(True)
        return ({"loss": float(loss.detach()), "sim_before": sim_before, "sim_after": sim_after},
                {"inputs": x.numpy(), "physical": meas.numpy(), "twin": out.detach().numpy()})

    return run_epochs("dat", step, model=model, optimizers={"opt": opt, "predictors": opt_p},  # type: ignore[arg-type]
                      data=data, settings=settings, processor=processor, run_path=run_path,  # type: ignore[arg-type]
                      resume=resume, control=control, progress=progress, modules={"predictors": pred},
                      generators={"warmup": warm_gen}, step_scalars=("sim_before", "sim_after"),
                      config={"system": "slm_bench", **_frames_config(processor), "dat": {"predictor": "layer", "layers": layout.layers, "kernel": settings.kernel,
                                                                                      "phase_order": settings.phase_order, "amp_order": settings.amp_order}})


# -- on a station --------------------------------------------------------------------------------

#: The roles an SLM bench trains with (hilt.roles): the light, the layer, the output.
ROLES = ("laser", "slm", "camera")


def is_slm_bench(station: Any) -> bool:
    """True for a station with an SLM and a camera (by role or by kind) and no photonic processor:
    what ``hilt train`` trains on with this module's loops."""
    if station.by_kind("photonic_processor"):
        return False
    named = getattr(getattr(station, "config", None), "roles", None) or {}
    return all(role in named or station.by_kind(role) for role in ("slm", "camera"))


@dataclasses.dataclass
class BenchSetup:
    """What training on a bench starts from: the processor, the twin, and the calibrations it
    rests on (their run and calibration files, their fit quality)."""

    processor: SlmCameraProcessor
    twin: SlmTwin
    calibrations: dict[str, dict[str, Any]]


def setup_bench(station: Any, *, runs_dir: str | Any = "runs", image_side: int = 8, mask_block: int = 4,
                region_px: int = 5, reach: float = 0.6, lut: str = "measure", twin_fringing: bool = False,
                lut_step: int = 8, record_frames: bool = True, frame_margin: int = 8, layers: int = 1,
                fold_distance_m: float | None = None, beam_waist_px: float | None = None) -> BenchSetup:
    """Calibrate the bench and build its processor and twin.

    The laser's output goes on; ``slm_geometry`` runs (the regions and the twin need the map);
    the LUT: ``lut="measure"`` runs ``slm_lut`` (every ``lut_step``-th level) unless the SLM's
    ``calibration:`` file holds one, which is loaded; ``"nominal"`` keeps the SLM's LUT as it is.
    A ``camera_dark_flat`` table as the camera's ``calibration:`` file gives the dark frame.
    ``twin_fringing``: the twin smooths the shown phase by the fringing width the LUT fit found.
    ``record_frames``: every reading's camera crop (the regions' bounding box plus
    ``frame_margin`` pixels) goes to the training run file's ``frames`` stream.

    ``layers=2``: a folded bench (two regions of the panel, a mirror ``fold_distance_m`` of path
    between them, as measured on the bench). ``slm_geometry`` shows its gratings on the whole
    panel, so each passes both regions and its spot sits at twice its frequency: the twin takes
    half the fitted matrix (the offset, the zeroth order, is the same) and half the beam waist
    read from the zeroth order through it. The LUT is the panel's,
    best measured before the fold mirror goes in (give it as the SLM's ``calibration:`` file):
    ``slm_lut``'s gratings, shown twice, do not read as the routine's model of one grating.
    ``beam_waist_px``: the beam's waist on the SLM as measured elsewhere (e.g. by ``slm_geometry``
    before the fold went in), instead of the one read through the fold, where the aberration of
    both regions and the misregistration widen the zeroth order (on the severe preset the waist
    read through the fold is 18 px against the true 45).
    """
    from hilt.errors import ConfigError
    from hilt.instruments.slm_processor import class_frequencies, regions_at

    from .calibration import (
        load_camera_dark_flat,
        load_slm_geometry,
        load_slm_lut,
        run_calibration,
    )
    from .calibration._common import find_role
    from .calibration.camera import NEEDS

    if layers not in (1, 2):
        raise ConfigError(f"layers {layers!r}: the bench has 1 or 2 (a folded bench)")
    if layers == 2 and not (fold_distance_m and fold_distance_m > 0):
        raise ConfigError("a folded (two-layer) bench needs fold_distance_m, the mirror's path between the regions")
    names = {role: find_role(station, NEEDS[role], None, "training") for role in ("slm", "camera", "laser")}
    slm, cam, laser = (station[names[r]] for r in ("slm", "camera", "laser"))
    laser.output.set(True)
    cals: dict[str, dict[str, Any]] = {}

    def calibrate(name: str, **options: Any) -> Any:
        result = run_calibration(station, name, out_dir=runs_dir, **options)
        if not result.ok:
            raise ConfigError(f"{name} did not complete: {result.error or result.status}")
        cals[name] = {"run_file": str(result.run_file), "calibration_file": str(result.calibration_file),
                      **{k: float(v) for k, v in result.quality.items()}}
        laser.output.set(True)  # a routine leaves the instruments it used safe
        return result

    fringing = 0.0
    lut_file = getattr(slm, "calibration_file", None)
    if lut == "measure" and lut_file:
        table = load_slm_lut(lut_file)
        slm.set_lut(np.asarray(table.lut, dtype=np.float64))
        fringing = table.fringing_px
        cals["slm_lut"] = {"calibration_file": str(lut_file), "fringing_px": fringing}
    elif lut == "measure":
        fringing = float(calibrate("slm_lut", step=lut_step).quality["fringing_px"])
    elif lut != "nominal":
        raise ConfigError(f"lut {lut!r}: expected 'measure' or 'nominal'")
    geo = load_slm_geometry(calibrate("slm_geometry").calibration_file)
    dark_file = getattr(cam, "calibration_file", None)
    dark = None
    if dark_file:
        table = load_camera_dark_flat(dark_file)
        dark = table.dark
        cals["camera_dark_flat"] = {"calibration_file": str(dark_file)}
    slm_shape = tuple(int(v) for v in slm.shape)
    region = (slm_shape[0], slm_shape[1] // layers)
    upsample = max(1, int(0.75 * min(region)) // image_side)
    layout = SlmLayout(slm_shape, image_side, upsample, math.pi, mask_block, layers)
    cam_shape = tuple(int(v) for v in cam.shape)
    freqs = class_frequencies(geo.map.frequency, cam_shape, reach=reach)
    regions = regions_at(geo.map.camera, freqs, cam_shape, region_px)
    regions = CameraRegions(regions.boxes, regions.frequencies / layers)  # the light's own frequencies
    processor = SlmCameraProcessor(slm, cam, layout, regions, dark=dark, record_frames=record_frames,
                                   frame_margin=frame_margin)
    matrix = np.asarray(geo.map.matrix, dtype=np.float64) / layers  # see the docstring: twice the frequency folded
    fold = {} if layers == 1 else {"fold_distance_m": float(fold_distance_m),  # type: ignore[arg-type]
                                   "pixel_pitch_m": float(slm.pixel_pitch_m), "wavelength_m": float(slm.wavelength_m)}
    # The zeroth order's width, read through the fitted (doubled) map, is the waist times the layers.
    waist = float(beam_waist_px) if beam_waist_px else geo.beam_waist_px / layers
    twin = SlmTwin(layout, regions, matrix, geo.map.offset, waist,
                   fringing if twin_fringing else 0.0, **fold)
    return BenchSetup(processor, twin, cals)


def station_bench_options(station: Any) -> dict[str, Any]:
    """The station file's ``setup: {slm_bench: {...}}``: options of :func:`setup_bench` that only
    the bench's builder knows (a folded bench's ``layers`` and ``fold_distance_m``), checked
    against :func:`setup_bench`'s options with an error naming the field."""
    import inspect

    from hilt.errors import ConfigError

    config = getattr(station, "config", None)
    given = dict((getattr(config, "setup", None) or {}).get("slm_bench") or {})
    known = set(inspect.signature(setup_bench).parameters) - {"station", "runs_dir"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"station {getattr(station, 'name', '?')!r}: setup.slm_bench: unknown option(s) "
                          f"{unknown} (known: {', '.join(sorted(known))})")
    return given


#: ``hilt train --loop`` names -> this module's methods.
STATION_LOOPS = {"insilico": "insilico", "insitu": "pat", "pat": "pat", "dat": "dat"}


def train_slm_on_station(station: Any, loop: str, data: Dataset, *, settings: Mapping[str, Any],
                         runs_dir: Any = "runs", run_path: str | None = None, resume: bool = False,
                         control: LoopControl | None = None, progress: ProgressCallback | None = None,
                         bench: Mapping[str, Any] | None = None) -> LoopResult:
    """``hilt train`` on an SLM bench: calibrate (:func:`setup_bench`, options ``bench``), then
    train with ``loop`` (insilico, insitu = PAT, dat); for PAT and DAT the mask starts from an
    in-silico model trained first on the twin. ``settings``: the loop's settings, and
    ``insilico_epochs`` / ``insilico_lr`` of that pre-training (default 10 and 0.2), ``n_train``
    / ``n_test`` (the first samples
    of each split), ``bench`` (options of :func:`setup_bench`). The training loop's result; its
    ``extra`` holds the calibrations and the bench's time per frame."""
    from hilt.errors import ConfigError

    method = STATION_LOOPS.get(loop)
    if method is None:
        raise ConfigError(f"loop {loop!r} on an SLM bench: expected one of {', '.join(STATION_LOOPS)} "
                          "(the zeroth-order loop needs a mesh processor)")
    s = dict(settings)
    # The twin pre-training's own pace: the loop's lr is a fine-tuning step on the bench.
    insilico_epochs = int(s.pop("insilico_epochs", 10))
    insilico_lr = float(s.pop("insilico_lr", 0.2))
    data = data.subset(s.pop("n_train", None), s.pop("n_test", None))
    options = {**station_bench_options(station), **dict(s.pop("bench", None) or {}), **dict(bench or {})}
    setup = setup_bench(station, runs_dir=runs_dir, **options)
    if side := int(math.isqrt(data.n_features)):
        if side != setup.twin.layout.image_side:
            raise ConfigError(f"{data.name}: {side}x{side} images, the bench's layout takes "
                              f"{setup.twin.layout.image_side}x{setup.twin.layout.image_side}")
    common = {k: v for k, v in s.items() if k in {f.name for f in dataclasses.fields(TrainSettings)}}
    init = None
    if method != "insilico":
        ins = train_slm_insilico(setup.twin, data, TrainSettings(**{**common, "epochs": insilico_epochs,
                                                                    "lr": insilico_lr, "eval_at_start": False,
                                                                    "progress_bar": False}))
        init = ins.model_state
    if method == "insilico":
        result = train_slm_insilico(setup.twin, data, TrainSettings(**common), processor=setup.processor,
                                    run_path=run_path, resume=resume, control=control, progress=progress)
    elif method == "pat":
        result = train_slm_pat(setup.processor, setup.twin, data, TrainSettings(**common), init_state=init,
                               run_path=run_path, resume=resume, control=control, progress=progress)
    else:
        dat_fields = {f.name for f in dataclasses.fields(SlmDATSettings)}
        result = train_slm_dat(setup.processor, setup.twin, data,
                               SlmDATSettings(**{k: v for k, v in s.items() if k in dat_fields}), init_state=init,
                               run_path=run_path, resume=resume, control=control, progress=progress)
    result.extra["calibrations"] = setup.calibrations
    result.extra["bench_per_frame"] = setup.processor.timing.per_frame()
    return result


__all__ = ["BenchSetup", "FrameCorrection", "corrected_readings", "mask_phases", "polynomial_modes", "ROLES", "STATION_LOOPS", "is_slm_bench", "setup_bench",
           "station_bench_options",
           "train_slm_on_station", "SlmClassifier", "SlmDATSettings", "SlmTwin", "train_slm_dat", "train_slm_insilico", "train_slm_pat"]
