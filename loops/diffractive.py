"""A diffractive classifier on the THz geometry: in silico, deployed, PAT and DAT.

The network is a :class:`~hilt.sims.physics.DiffractiveStack` of printed height masks in the
THz D2NN geometry of Lin et al. (2018) (:data:`~hilt.sims.physics.THZ_0P4`: 0.4 THz,
0.4 mm pixels, 3 cm gaps, VeroBlackPlus resin) on a small grid, with ten class detectors
(:meth:`~hilt.sims.physics.DetectorArray.grid`, rows 3-4-3). Inputs are scikit-learn's 8x8
digits, upsampled (nearest) and amplitude-encoded on the input plane. The physical stack
carries frozen misalignment (lateral shift, in-plane rotation, out-of-plane tilt, gap errors),
fabrication (height) errors, printer quantisation and imperfect detectors
(``.with_errors(preset, seed)``); the loops see it only through a
:class:`~hilt.instruments.diffractive_processor.DiffractiveProcessor`.

Methods:

- ``error_free``: the in-silico model on a stack with preset ``none``;
- ``deployed``: the in-silico model printed as designed on the erroneous stack;
- ``pat``: physics-aware training (measured outputs forward, twin Jacobian backward);
- ``dat``: dual adaptive training (Zheng et al., arXiv:2212.06141) with one error-prediction
  network per layer (:class:`LayerCorrection`), fitted to the measured detector readings by the
  similarity loss of :mod:`hilt.loops.dat`, alternating with the task step through the
  corrected twin with the measured readings substituted; ``dat_internal`` also fits and fuses
  the intensity planes between layers (a camera or raster at each plane).

PAT and DAT fine-tune the in-silico model. The loops reuse :func:`hilt.loops.core.run_epochs`
(control, progress, scalars, checkpoints, resume) through a thin adapter
(:class:`MeshProcessorAdapter`): the model's ``n_ports`` is the number of input-plane pixels,
so the shared amplitude encoding puts each sample on the plane with unit power, and its
``n_outputs`` (the detectors) shapes the captured physical and twin readings.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hilt.instruments.diffractive_processor import (
    DiffractiveProcessor,
    LocalDiffractiveProcessor,
    masks_of,
)
from hilt.sims.physics import THZ_0P4, DetectorArray, DiffractiveStack, ErrorLevels, error_levels

from .core import (
    LoopControl,
    LoopResult,
    ProgressCallback,
    TrainSettings,
    config_dict,
    encode,
    evaluate_physical,
    head_and_phase_optimizer,
    publish_result,
    run_epochs,
    start_model,
)
from .dat import DATSettings, fuse_amplitude, similarity_loss
from .data import Dataset, load_digits
from .head import ClassifierHead, task_loss
from .pat import substitute

# -- geometry and data ----------------------------------------------------------------------


def build_stack(grid: int = 32, n_layers: int = 3, spacing: float | None = None,
                detector_size: int = 4, rows: Sequence[int] = (3, 4, 3), seed: int = 0
                ) -> DiffractiveStack:
    """The THz D2NN geometry (:data:`THZ_0P4`) on a ``grid`` x ``grid`` plane, printed height
    masks, ten (``sum(rows)``) square class detectors on the output plane."""
    setup = THZ_0P4 if spacing is None else dataclasses.replace(THZ_0P4, spacing=float(spacing))
    shape = (int(grid), int(grid))
    return setup.build(int(n_layers), DetectorArray.grid(shape, rows, int(detector_size)),
                       kind="height", seed=seed, shape=shape)


def plane_dataset(data: Dataset, grid: int, upsample: int = 3) -> Dataset:
    """Square images (n, s*s) -> input planes (n, grid*grid): nearest upsampling by ``upsample``,
    centred, zero around (the shared amplitude encoding then normalises each plane's power)."""
    side = math.isqrt(data.n_features)

    def planes(x: np.ndarray) -> np.ndarray:
        img = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1, side, side)
        img = F.interpolate(img, scale_factor=upsample, mode="nearest")[:, 0]
        s = side * upsample
        if s > grid:
            raise ValueError(f"{s}x{s} image does not fit a {grid}x{grid} plane")
        out = torch.zeros(len(img), grid, grid)
        o = (grid - s) // 2
        out[:, o:o + s, o:o + s] = img
        return out.reshape(len(img), grid * grid).numpy()

    return Dataset(data.name, planes(data.x_train), data.y_train, planes(data.x_test),
                   data.y_test, data.n_classes)


# -- the model and the processor adapter -----------------------------------------------------


class DiffractiveClassifier(nn.Module):
    """The loop's model: a twin stack (its masks are what gets printed / programmed) + a head.

    Speaks the interface :func:`hilt.loops.core.run_epochs` expects of a model: ``n_ports``
    (input-plane pixels), ``phases()`` (the programmed masks), ``phase_parameters()``,
    ``forward(x)`` on flattened input planes.
    """

    def __init__(self, twin: DiffractiveStack, head: ClassifierHead) -> None:
        super().__init__()
        self.twin = twin
        self.head = head

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.twin.shape)  # type: ignore[return-value]

    @property
    def n_ports(self) -> int:
        return int(self.shape[0] * self.shape[1])

    @property
    def n_outputs(self) -> int:
        """Detector readings per sample (what the run file captures as physical and twin)."""
        return int(self.twin.detectors.n)

    def planes(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *self.shape)

    def phases(self) -> list[np.ndarray]:
        return masks_of(self.twin)

    def phase_parameters(self) -> list[nn.Parameter]:
        return list(self.twin.masks.parameters())

    def readout(self, x: torch.Tensor) -> torch.Tensor:
        """The twin's detector readings for flattened input planes (B, ny*nx)."""
        return self.twin(self.planes(x))

    def forward(self, x: torch.Tensor, method: str | None = None) -> torch.Tensor:
        return self.head(self.readout(x))


def make_classifier(twin: DiffractiveStack, n_classes: int = 10,
                    head: ClassifierHead | None = None) -> DiffractiveClassifier:
    """A private copy of ``twin`` (the loop never mutates the caller's stack) + a head reading
    the first ``n_classes`` detectors."""
    twin = copy.deepcopy(twin)
    for p in twin.parameters():
        p.requires_grad_(True)
    n_det = int(twin.detectors.n)
    return DiffractiveClassifier(twin, copy.deepcopy(head) if head is not None
                                 else ClassifierHead(n_det, n_classes))


class MeshProcessorAdapter:
    """A :class:`DiffractiveProcessor` seen through the MeshProcessor calls the shared loop
    code makes: ``load_phases(masks)`` programs masks, ``run`` takes flattened planes."""

    def __init__(self, processor: DiffractiveProcessor) -> None:
        self.processor = processor
        self.shape = tuple(processor.shape)
        self.n_ports = int(self.shape[0] * self.shape[1])
        self.n_layers = int(processor.n_layers)

    @property
    def queries(self) -> Any:
        return self.processor.queries

    def load_phases(self, masks: list[np.ndarray]) -> None:
        self.processor.load_masks(masks)

    def run(self, inputs: np.ndarray, internal: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        x = np.asarray(inputs).reshape(-1, *self.shape)
        return self.processor.run(x, internal=internal)

    def safe_state(self) -> None:
        self.processor.safe_state()


def _as_array(a: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float32))


def _start(twin: DiffractiveStack, data: Dataset, settings: TrainSettings,
           head: ClassifierHead | None, init_state: dict[str, Any] | None) -> DiffractiveClassifier:
    return start_model(twin, data, settings, head, init_state, make=make_classifier)


# -- in silico and PAT ----------------------------------------------------------------------


def train_diffractive_insilico(twin: DiffractiveStack, data: Dataset,
                               settings: TrainSettings | None = None, *,
                               processor: DiffractiveProcessor | None = None,
                               head: ClassifierHead | None = None,
                               init_state: dict[str, Any] | None = None,
                               run_path: str | None = None, resume: bool = False,
                               control: LoopControl | None = None,
                               progress: ProgressCallback | None = None) -> LoopResult:
    """Train a copy of ``twin`` (+ head) on plane ``data`` (:func:`plane_dataset`); with
    ``processor``, deploy the result and report its physical test accuracy."""
    settings = settings or TrainSettings()
    model = _start(twin, data, settings, head, init_state)
    opt = head_and_phase_optimizer(model, settings)  # type: ignore[arg-type]

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], None]:
        opt.zero_grad(set_to_none=True)
        loss = task_loss(model(x), y)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}, None

    proc = None if processor is None else MeshProcessorAdapter(processor)
    return run_epochs("insilico", step, model=model, optimizers={"opt": opt},  # type: ignore[arg-type]
                      data=data, settings=settings, processor=proc, run_path=run_path,  # type: ignore[arg-type]
                      resume=resume, control=control, progress=progress,
                      deploy_eval=proc is not None, config={"system": "diffractive"})


def train_diffractive_pat(processor: DiffractiveProcessor, twin: DiffractiveStack, data: Dataset,
                          settings: TrainSettings | None = None, *,
                          head: ClassifierHead | None = None,
                          init_state: dict[str, Any] | None = None, run_path: str | None = None,
                          resume: bool = False, control: LoopControl | None = None,
                          progress: ProgressCallback | None = None) -> LoopResult:
    """Physics-aware training: each batch measured once, the twin's Jacobian backward."""
    settings = settings or TrainSettings()
    model = _start(twin, data, settings, head, init_state)
    opt = head_and_phase_optimizer(model, settings)  # type: ignore[arg-type]
    proc = MeshProcessorAdapter(processor)

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], dict[str, Any]]:
        opt.zero_grad(set_to_none=True)
        proc.load_phases(model.phases())
        measured = _as_array(proc.run(x.numpy())[0])
        twin_out = model.readout(x)
        loss = task_loss(model.head(substitute(twin_out, measured)), y)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}, {"inputs": x.numpy(), "physical": measured.numpy(),
                                                 "twin": twin_out.detach().numpy()}

    return run_epochs("pat", step, model=model, optimizers={"opt": opt},  # type: ignore[arg-type]
                      data=data, settings=settings, processor=proc, run_path=run_path,  # type: ignore[arg-type]
                      resume=resume, control=control, progress=progress,
                      config={"system": "diffractive"})


# -- DAT ------------------------------------------------------------------------------------


class LayerCorrection(nn.Module):
    """Error-prediction network of one layer: the physical layer's delay maps from the designed
    ones, ``phase' = K * phase + d_phase``, ``log_amp' = K * log_amp + d_log_amp``.

    ``K`` (a ``kernel`` x ``kernel`` convolution, the identity at start) can represent the
    resampling of a laterally shifted, slightly rotated or tilted layer (a sub-pixel warp is a
    local linear interpolation of the maps); the per-pixel offset maps (zero at start) the
    fabricated height errors. It acts on the masks, not on a field, so it stays valid while the
    masks it corrects are being trained.
    """

    def __init__(self, shape: tuple[int, int], kernel: int = 5) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"kernel {kernel}: must be odd")
        k = torch.zeros(kernel, kernel)
        k[kernel // 2, kernel // 2] = 1.0
        self.kernel = nn.Parameter(k)
        self.d_phase = nn.Parameter(torch.zeros(shape))
        self.d_log_amp = nn.Parameter(torch.zeros(shape))

    def forward(self, phase: torch.Tensor, log_amp: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        maps = torch.stack([phase, log_amp])[:, None]
        k = self.kernel.shape[-1]
        out = F.conv2d(maps, self.kernel[None, None], padding=k // 2)[:, 0]
        return out[0] + self.d_phase, out[1] + self.d_log_amp


class FieldCorrection(nn.Module):
    """The DAT paper's placement: a complex residual convolution on the field after a layer,
    ``u -> u + C * u`` (zero at start)."""

    def __init__(self, kernel: int = 5) -> None:
        super().__init__()
        self.re = nn.Parameter(torch.zeros(kernel, kernel))
        self.im = nn.Parameter(torch.zeros(kernel, kernel))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        k = self.re.shape[-1]
        flat = u.reshape(-1, 1, *u.shape[-2:])
        w = torch.complex(self.re, self.im)[None, None]
        # conv2d has no complex kernels: four real convolutions.
        re = F.conv2d(flat.real, w.real, padding=k // 2) - F.conv2d(flat.imag, w.imag, padding=k // 2)
        im = F.conv2d(flat.real, w.imag, padding=k // 2) + F.conv2d(flat.imag, w.real, padding=k // 2)
        return u + torch.complex(re, im).reshape(u.shape)


class LayerPredictor(nn.Module):
    """One layer's error-prediction network: ``kind`` "layer" (:class:`LayerCorrection`),
    "field" (:class:`FieldCorrection`) or "layer+field" (both)."""

    def __init__(self, shape: tuple[int, int], kind: str = "layer", kernel: int = 5) -> None:
        super().__init__()
        if kind not in ("layer", "field", "layer+field"):
            raise ValueError(f"predictor {kind!r}: expected 'layer', 'field' or 'layer+field'")
        self.layer = LayerCorrection(shape, kernel) if "layer" in kind else None
        self.field = FieldCorrection(kernel) if "field" in kind else None


def make_layer_predictors(shape: tuple[int, int], n_layers: int, kind: str = "layer",
                          kernel: int = 5) -> nn.ModuleList:
    return nn.ModuleList(LayerPredictor(shape, kind, kernel) for _ in range(n_layers))


def corrected_readout(twin: DiffractiveStack, predictors: nn.ModuleList, x: torch.Tensor,
                      fuse: list[torch.Tensor] | None = None
                      ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Twin + error-prediction networks: detector readings and the intensity planes arriving
    at layers 2..L. ``fuse``: measured planes whose amplitudes replace the model's (phases
    kept) before the next layer, as the DAT paper's state fusion."""
    u = twin.propagators[0](x if x.is_complex() else x.to(torch.complex64))
    states = []
    n = len(twin.masks)
    for i, mask in enumerate(twin.masks):
        phase, log_amp = mask.delay(twin.wavelength)
        pred: LayerPredictor = predictors[i]  # type: ignore[assignment]
        if pred.layer is not None:
            phase, log_amp = pred.layer(phase, log_amp)
        u = u * torch.polar(torch.exp(log_amp), phase)
        if pred.field is not None:
            u = pred.field(u)
        u = twin.propagators[i + 1](u)
        if i < n - 1:
            states.append(u.abs().square())
            if fuse is not None:
                u = fuse_amplitude(u, fuse[i])
    return twin.readout(twin.detectors(u.abs().square())), states


@dataclasses.dataclass
class DiffractiveDATSettings(DATSettings):
    """:class:`~hilt.loops.dat.DATSettings` with the diffractive predictors
    (``predictor``: "layer", "field" or "layer+field"; ``mode``: "output" or "internal")."""

    predictor: str = "layer"
    # 3 x 3 covers shifts up to a pixel and fits faster than 5 x 5 (measured on the severe
    # preset: similarity 0.79 -> 0.003 in 80 steps at lr 0.03).
    kernel: int = 3
    predictor_lr: float = 0.03
    predictor_steps: int = 2
    warmup_batches: int = 16
    warmup_steps: int = 10


def _set_grad(params: Sequence[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def train_diffractive_dat(processor: DiffractiveProcessor, twin: DiffractiveStack, data: Dataset,
                          settings: DiffractiveDATSettings | None = None, *,
                          head: ClassifierHead | None = None,
                          init_state: dict[str, Any] | None = None, run_path: str | None = None,
                          resume: bool = False, control: LoopControl | None = None,
                          progress: ProgressCallback | None = None) -> LoopResult:
    """Dual adaptive training of a diffractive classifier (see the module docstring)."""
    settings = settings or DiffractiveDATSettings()
    if settings.mode not in ("output", "internal"):
        raise ValueError(f"DAT mode {settings.mode!r}: expected 'output' or 'internal'")
    model = _start(twin, data, settings, head, init_state)
    predictors = make_layer_predictors(model.shape, len(model.twin.masks), settings.predictor,
                                       settings.kernel)
    opt = head_and_phase_optimizer(model, settings)  # type: ignore[arg-type]
    opt_p = torch.optim.Adam(predictors.parameters(), lr=settings.predictor_lr)
    mask_params, pred_params = model.phase_parameters(), list(predictors.parameters())
    internal = settings.mode == "internal"
    proc = MeshProcessorAdapter(processor)
    warm_gen = torch.Generator().manual_seed(int(settings.seed) + 1)
    x_all = encode(data, model.n_ports, settings.input_power)[0]  # type: ignore[arg-type]

    def measure(x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        proc.load_phases(model.phases())
        out, states = proc.run(x.numpy(), internal=internal)
        return _as_array(out), [_as_array(s) for s in states]

    def sim_loss(x: torch.Tensor, meas: torch.Tensor, meas_states: list[torch.Tensor]
                 ) -> torch.Tensor:
        pred, states = corrected_readout(model.twin, predictors, model.planes(x))
        loss = similarity_loss(pred, meas)
        for s, m in zip(states, meas_states, strict=False):
            loss = loss + similarity_loss(s.flatten(1), m.flatten(1))
        return loss

    def fit(x: torch.Tensor, meas: torch.Tensor, meas_states: list[torch.Tensor], steps: int
            ) -> tuple[float, float]:
        _set_grad(mask_params, False)
        first = float("nan")
        try:
            for k in range(steps):
                opt_p.zero_grad(set_to_none=True)
                loss = sim_loss(x, meas, meas_states)
                loss.backward()
                opt_p.step()
                if k == 0:
                    first = float(loss.detach())
            with torch.no_grad():
                last = float(sim_loss(x, meas, meas_states))
        finally:
            _set_grad(mask_params, True)
        return first, last

    def step(x: torch.Tensor, y: torch.Tensor, step_no: int) -> tuple[dict[str, float], dict[str, Any]]:
        if step_no == 0 and settings.warmup_batches > 0:
            # Fit the predictors to the device before the first task step (fresh runs only).
            xs = x_all[torch.randperm(len(x_all), generator=warm_gen)]
            for xb in xs.split(settings.batch_size)[:settings.warmup_batches]:
                m, ms = measure(xb)
                fit(xb, m, ms, settings.warmup_steps)
        meas, meas_states = measure(x)
        sim_before, sim_after = fit(x, meas, meas_states, settings.predictor_steps)
        _set_grad(pred_params, False)
        try:
            opt.zero_grad(set_to_none=True)
            pred, _ = corrected_readout(model.twin, predictors, model.planes(x),
                                        fuse=meas_states if internal else None)
            loss = task_loss(model.head(substitute(pred, meas)), y)
            loss.backward()
            opt.step()
        finally:
            _set_grad(pred_params, True)
        return ({"loss": float(loss.detach()), "sim_before": sim_before, "sim_after": sim_after},
                {"inputs": x.numpy(), "physical": meas.numpy(), "twin": pred.detach().numpy()})

    name = "dat" if settings.mode == "output" else "dat_internal"
    return run_epochs(name, step, model=model, optimizers={"opt": opt, "predictors": opt_p},  # type: ignore[arg-type]
                      data=data, settings=settings, processor=proc, run_path=run_path,  # type: ignore[arg-type]
                      resume=resume, control=control, progress=progress,
                      modules={"predictors": predictors}, generators={"warmup": warm_gen},
                      step_scalars=("sim_before", "sim_after"),
                      config={"system": "diffractive",
                              "dat": {"mode": settings.mode, "predictor": settings.predictor}})


# -- the demo -------------------------------------------------------------------------------


@dataclasses.dataclass
class DiffractiveDemoConfig:
    grid: int = 32
    upsample: int = 3
    n_layers: int = 3
    spacing: float = 0.03  # THZ_0P4's 3 cm
    detector_size: int = 4
    seed: int = 0  # masks, data split, training
    error_seed: int = 1  # the stack's frozen errors
    # The stack passes ~2e-4 of the input power to the detectors (most light leaves the small
    # aperture at wide angles); this sets the signal against the presets' readout noise.
    input_power: float = 1000.0
    batch_size: int = 32
    insilico_epochs: int = 8
    insilico_lr: float = 0.05
    finetune_epochs: int = 4
    finetune_lr: float = 0.02
    errors: tuple[str, ...] = ("severe", "mild")
    methods: tuple[str, ...] = ("pat", "dat")
    n_train: int | None = None
    n_test: int | None = None

    @classmethod
    def quick(cls) -> DiffractiveDemoConfig:
        return cls(insilico_epochs=3, finetune_epochs=2, errors=("severe",), n_train=600)


#: The ErrorLevels fields a diffractive stack uses (the presets also set MZI and neuron errors).
DIFFRACTIVE_ERROR_FIELDS = ("shift_px", "rotation_rad", "tilt_rad", "axial_m", "height_rel",
                            "detector_gain", "detector_noise", "dark_level", "drift_per_hour",
                            "control_bits")


def _levels_dict(levels: ErrorLevels) -> dict[str, Any]:
    return {k: getattr(levels, k) for k in DIFFRACTIVE_ERROR_FIELDS
            if getattr(levels, k) not in (0.0, None)}


def run_diffractive_demo(quick: bool = False, json_path: str | None = None,
                         runs_dir: str | None = "runs", progress: bool = True,
                         config: DiffractiveDemoConfig | None = None,
                         data: Dataset | None = None) -> dict[str, Any]:
    """Train and compare error-free / deployed / PAT / DAT on a THz diffractive stack; print a
    table; return (and with ``json_path`` write) ``{"methods": {name: {"accuracy",
    "physical_queries", ...}}, "errors": {...}, "dataset": ...}`` (``methods`` on the first
    error setting; ``errors["settings"]`` holds every setting). Run files go to ``runs_dir``."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    t0 = time.perf_counter()
    cfg = config or (DiffractiveDemoConfig.quick() if quick else DiffractiveDemoConfig())
    raw = (data or load_digits(cfg.seed)).subset(cfg.n_train, cfg.n_test)
    planes = plane_dataset(raw, cfg.grid, cfg.upsample)
    stack = build_stack(cfg.grid, cfg.n_layers, cfg.spacing, cfg.detector_size, seed=cfg.seed)
    root = None if runs_dir is None else Path(runs_dir) / f"diffractive-{raw.name}"

    def path(*parts: str) -> str | None:
        return None if root is None else str(root.joinpath(*parts[:-1], parts[-1] + ".h5"))

    base = dict(batch_size=cfg.batch_size, seed=cfg.seed, input_power=cfg.input_power,
                progress_bar=progress)
    ins = train_diffractive_insilico(
        stack.twin(), planes, TrainSettings(epochs=cfg.insilico_epochs, lr=cfg.insilico_lr,
                                            **base), run_path=path("insilico"))
    init = ins.model_state
    model = make_classifier(stack.twin(), planes.n_classes)
    model.load_state_dict(init)
    _, _, x_te, y_te = encode(planes, model.n_ports, cfg.input_power)

    def evaluate(levels: str | ErrorLevels) -> float:
        proc = MeshProcessorAdapter(LocalDiffractiveProcessor(stack.with_errors(levels,
                                                                                cfg.error_seed)))
        return evaluate_physical(proc, model, x_te, y_te)  # type: ignore[arg-type]

    error_free = evaluate("none")
    ft = dict(epochs=cfg.finetune_epochs, lr=cfg.finetune_lr, eval_every_epoch=False, **base)
    errors: dict[str, Any] = {}
    for name in cfg.errors:
        levels = error_levels(name)
        methods: dict[str, Any] = {"error_free": {"accuracy": error_free, "physical_queries": 0},
                                   "deployed": {"accuracy": evaluate(levels),
                                                "physical_queries": 0}}
        for m in cfg.methods:
            proc = LocalDiffractiveProcessor(stack.with_errors(levels, cfg.error_seed))
            rp = path(name, m)
            if m == "pat":
                r = train_diffractive_pat(proc, stack.twin(), planes, TrainSettings(**ft),
                                          init_state=init, run_path=rp)
            elif m in ("dat", "dat_internal"):
                mode = "output" if m == "dat" else "internal"
                r = train_diffractive_dat(proc, stack.twin(), planes,
                                          DiffractiveDATSettings(mode=mode, **ft),
                                          init_state=init, run_path=rp)
            else:
                raise ValueError(f"unknown method {m!r}")
            methods[m] = {**r.summary(), "run_file": r.run_path}
        errors[name] = {"levels": _levels_dict(levels), "methods": methods}

    first = cfg.errors[0]
    result = {
        "dataset": raw.name,
        "system": "diffractive",
        "n_train": int(len(planes.y_train)), "n_test": int(len(planes.y_test)),
        "methods": errors[first]["methods"],
        "errors": {"preset": first, "levels": errors[first]["levels"], "settings": errors},
        "insilico": {**ins.summary(), "run_file": ins.run_path},
        "config": config_dict(cfg),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return publish_result(result, format_table(result), json_path)


def format_table(result: dict[str, Any]) -> str:
    """Accuracy (%) and physical queries per method (rows) and error preset (columns)."""
    settings = result["errors"]["settings"]
    rows: list[str] = []
    for s in settings.values():
        rows += [m for m in s["methods"] if m not in rows]
    head = f"{'method':<14}" + "".join(f"{n:>20}" for n in settings)
    lines = [f"{result['dataset']} on a THz diffractive stack: test accuracy % "
             "(training queries)", head, "-" * len(head)]
    for m in rows:
        cells = [f"{'':>20}" if (r := s["methods"].get(m)) is None else
                 f"{100 * r['accuracy']:>11.1f} ({r['physical_queries']:>6d})"
                 for s in settings.values()]
        lines.append(f"{m:<14}" + "".join(cells))
    return "\n".join(lines)


__all__ = [
    "DiffractiveClassifier", "DiffractiveDATSettings", "DiffractiveDemoConfig",
    "FieldCorrection", "LayerCorrection", "LayerPredictor", "MeshProcessorAdapter",
    "build_stack", "corrected_readout", "format_table", "make_classifier", "make_layer_predictors",
    "plane_dataset", "run_diffractive_demo", "train_diffractive_dat",
    "train_diffractive_insilico", "train_diffractive_pat",
]
