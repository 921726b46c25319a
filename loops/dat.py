"""Dual adaptive training (DAT; Zheng et al., "Dual adaptive training of photonic neural
networks", Nature Machine Intelligence 5, 1119 (2023), arXiv:2212.06141).

The numerical model is the twin with a systematic-error prediction network (SEPN) after each
mesh: ``z_i = P_i(mesh_i(x_i))``, ``x_{i+1} = act(z_i)``. Each batch is measured on the
hardware once (final intensities, and with ``mode != "output"`` the intensities after every mesh
but the last, ``processor.run(..., internal=True)``); then two updates alternate:

1. *similarity step* (SEPNs only, phases frozen): fit the corrected twin's intensities to the
   measured ones with a normalised MSE, ``mean_b ||I_pred - I_meas||^2 / ||I_meas||^2``;
2. *task step* (phases + head, SEPNs frozen): cross-entropy through the corrected twin with the
   measured final intensities substituted in the forward pass (``y + (y_meas - y).detach()``,
   the "state fusion" of the paper); with internal states the measured amplitudes also replace
   the model's internal amplitudes, keeping the model's phases (which cannot be measured).

Modes: ``"output"`` (final outputs only), ``"internal"`` (all measured states in one global
similarity loss), ``"block"`` (block by block: each SEPN fitted to its own layer's measurement
with its input built from the measured amplitudes upstream, so the layers are fitted
separately — the paper's separable mode, with intensities instead of fields).
SEPNs: ``"linear"`` (complex ``z + A z``, A initialised to 0, so the model starts as the twin)
or ``"mlp"`` (complex residual MLP with a split-ReLU hidden layer, output layer initialised to 0).
Their Adam learning rate defaults to 1e-4: a dense SEPN fitted at 1e-3 drifts until the task
gradient through it is useless, with outputs only (measured with the sum-normalised head) and,
with the DAT benchmark's head, with internal states too (phase error 0.10: 87 % after one
epoch, then 48 % after four; 73 % with 1e-4; docs/adr/0006-training-loops.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hilt.instruments.mesh_processor import MeshProcessor
from hilt.sims.physics.mzi import intensity

from .core import (
    LoopControl,
    LoopResult,
    ProgressCallback,
    TrainSettings,
    head_and_phase_optimizer,
    run_epochs,
    start_model,
)
from .data import Dataset
from .head import ClassifierHead, task_loss
from .pat import substitute


@dataclass
class DATSettings(TrainSettings):
    mode: str = "output"  # "output", "internal" or "block"
    predictor: str = "linear"  # "linear" or "mlp"
    hidden: int = 64  # mlp width
    # Adam moves every entry of a dense SEPN by ~lr a step; at 1e-3 the SEPNs drift until the
    # task gradient through them is useless, in every mode (measured, ADR 0006). None: 1e-4.
    predictor_lr: float | None = None
    predictor_steps: int = 2  # similarity steps per measured batch
    warmup_batches: int = 8  # measured batches fitted before the first task step (fresh runs)
    warmup_steps: int = 10  # similarity steps on each warm-up batch
    sim_weight: float = 0.0  # similarity loss also on the phases (0: task loss only)
    # Which SEPNs are fitted: "all" or "last" (the others stay the identity). "last" was
    # tried for outputs only and did worse than "all" (ADR 0006).
    predictor_layers: str = "all"


class ComplexLinearCorrection(nn.Module):
    """``z -> z + A z`` with complex A (n, n), zero at start."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight_re = nn.Parameter(torch.zeros(n, n))
        self.weight_im = nn.Parameter(torch.zeros(n, n))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = torch.complex(self.weight_re, self.weight_im)
        return z + z @ a.T


class ComplexResidualMLP(nn.Module):
    """``z -> z + W2 crelu(W1 z + b1)``, complex weights; W2 zero at start."""

    def __init__(self, n: int, hidden: int, generator: torch.Generator) -> None:
        super().__init__()
        s = 1.0 / math.sqrt(n)
        self.w1_re = nn.Parameter(s * torch.randn(hidden, n, generator=generator))
        self.w1_im = nn.Parameter(s * torch.randn(hidden, n, generator=generator))
        self.b1_re = nn.Parameter(torch.zeros(hidden))
        self.b1_im = nn.Parameter(torch.zeros(hidden))
        self.w2_re = nn.Parameter(torch.zeros(n, hidden))
        self.w2_im = nn.Parameter(torch.zeros(n, hidden))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = z @ torch.complex(self.w1_re, self.w1_im).T + torch.complex(self.b1_re, self.b1_im)
        h = torch.complex(torch.relu(h.real), torch.relu(h.imag))
        return z + h @ torch.complex(self.w2_re, self.w2_im).T


def make_predictors(n: int, n_layers: int, kind: str = "linear", hidden: int = 64,
                    seed: int = 0) -> nn.ModuleList:
    g = torch.Generator().manual_seed(int(seed) + 7919)
    if kind == "linear":
        return nn.ModuleList(ComplexLinearCorrection(n) for _ in range(n_layers))
    if kind == "mlp":
        return nn.ModuleList(ComplexResidualMLP(n, hidden, g) for _ in range(n_layers))
    raise ValueError(f"predictor {kind!r}: expected 'linear' or 'mlp'")


def fuse_amplitude(z: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
    """Measured amplitude, model phase in the forward pass; the model's gradient backward."""
    phase = z.detach() / z.detach().abs().clamp_min(1e-30)
    fused = intensity.clamp_min(0.0).sqrt().to(z.dtype) * phase
    return z + (fused - z).detach()


def corrected_forward(twin: nn.Module, predictors: nn.ModuleList, x: torch.Tensor,
                      method: str = "columns", fuse: list[torch.Tensor] | None = None,
                      detach_between: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Twin + SEPNs: final detected intensities and the intensities after each mesh but the
    last. ``fuse``: measured internal intensities substituted (amplitudes) before each
    activation; ``detach_between`` cuts the graph between blocks (block-by-block fitting)."""
    states = []
    n_layers = len(twin.meshes)
    z = x
    for i, mesh in enumerate(twin.meshes):
        z = predictors[i](mesh(x, method))
        if i < n_layers - 1:
            states.append(intensity(z))
            if fuse is not None:
                z = fuse_amplitude(z, fuse[i])
            x = twin.activation(z)
            if detach_between:
                x = x.detach()
    return twin.detectors(intensity(z)), states


def similarity_loss(pred: torch.Tensor, measured: torch.Tensor) -> torch.Tensor:
    """Normalised MSE on intensities: ``mean_b ||p - m||^2 / ||m||^2``."""
    num = (pred - measured).square().sum(-1)
    return (num / measured.square().sum(-1).clamp_min(1e-30)).mean()


def _set_grad(params: list[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def train_dat(processor: MeshProcessor, twin: nn.Module, data: Dataset,
              settings: DATSettings | None = None, *, head: ClassifierHead | None = None,
              init_state: dict[str, Any] | None = None, run_path: str | None = None,
              resume: bool = False, control: LoopControl | None = None,
              progress: ProgressCallback | None = None) -> LoopResult:
    """Dual adaptive training on ``processor`` (see the module docstring)."""
    settings = settings or DATSettings()
    if settings.mode not in ("output", "internal", "block"):
        raise ValueError(f"DAT mode {settings.mode!r}: expected output, internal or block")
    model = start_model(twin, data, settings, head, init_state)
    n, n_layers = model.n_ports, len(model.twin.meshes)
    predictors = make_predictors(n, n_layers, settings.predictor, settings.hidden, settings.seed)
    internal = settings.mode != "output"
    layers = settings.predictor_layers
    if layers not in ("all", "last"):
        raise ValueError(f"predictor_layers {layers!r}: expected all or last")
    predictor_lr = settings.predictor_lr if settings.predictor_lr is not None else 1e-4
    fitted = predictors if layers == "all" else predictors[-1:]
    for p in predictors.parameters():
        p.requires_grad_(False)
    pred_params = list(fitted.parameters())
    for p in pred_params:
        p.requires_grad_(True)
    opt = head_and_phase_optimizer(model, settings)
    opt_p = torch.optim.Adam(pred_params, lr=predictor_lr)
    phase_params = model.phase_parameters()
    block = settings.mode == "block"
    warm_gen = torch.Generator().manual_seed(int(settings.seed) + 1)
    x_all = None

    def measure(x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        processor.load_phases(model.phases())
        out, states = processor.run(x.numpy(), internal=internal)
        return (torch.as_tensor(np.asarray(out, dtype=np.float32)),
                [torch.as_tensor(np.asarray(s, dtype=np.float32)) for s in states])

    def sim_loss(x: torch.Tensor, meas: torch.Tensor, meas_states: list[torch.Tensor],
                 method: str) -> tuple[torch.Tensor, torch.Tensor]:
        fuse = meas_states if (block and meas_states) else None
        pred, states = corrected_forward(model.twin, predictors, x, method, fuse=fuse,
                                         detach_between=block)
        loss = similarity_loss(pred, meas)
        if internal and meas_states:
            loss = loss + sum(similarity_loss(s, m) for s, m in zip(states, meas_states,
                                                                   strict=True))
        return loss, pred

    def fit_predictors(x: torch.Tensor, meas: torch.Tensor, meas_states: list[torch.Tensor],
                       steps: int) -> tuple[float, float]:
        # Phases frozen: each mesh's transfer matrix is then built once and cached.
        _set_grad(phase_params, False)
        first = last = float("nan")
        try:
            for k in range(steps):
                opt_p.zero_grad(set_to_none=True)
                loss, _ = sim_loss(x, meas, meas_states, "matrix")
                loss.backward()
                opt_p.step()
                if k == 0:
                    first = float(loss.detach())
            with torch.no_grad():
                last = float(sim_loss(x, meas, meas_states, "matrix")[0])
        finally:
            _set_grad(phase_params, True)
        return first, last

    def step(x: torch.Tensor, y: torch.Tensor, step_no: int) -> tuple[dict[str, float], dict]:
        nonlocal x_all
        if step_no == 0 and settings.warmup_batches > 0:
            # Fit the SEPNs to the device before the first task step (fresh runs only).
            xs = x_all[torch.randperm(len(x_all), generator=warm_gen)]
            for xb in xs.split(settings.batch_size)[:settings.warmup_batches]:
                m, ms = measure(xb)
                fit_predictors(xb, m, ms, settings.warmup_steps)
        meas, meas_states = measure(x)
        sim_before, sim_after = fit_predictors(x, meas, meas_states, settings.predictor_steps)
        _set_grad(pred_params, False)
        try:
            opt.zero_grad(set_to_none=True)
            fuse = meas_states if (internal and meas_states) else None
            pred, _ = corrected_forward(model.twin, predictors, x, settings.twin_method, fuse=fuse)
            loss = task_loss(model.head(substitute(pred, meas)), y)
            total = loss + settings.sim_weight * similarity_loss(pred, meas) \
                if settings.sim_weight else loss
            total.backward()
            opt.step()
        finally:
            _set_grad(pred_params, True)
        return ({"loss": float(loss.detach()), "sim_before": sim_before, "sim_after": sim_after},
                {"inputs": x.numpy(), "physical": meas.numpy(), "twin": pred.detach().numpy()})

    from .core import encode

    x_all = encode(data, n, settings.input_power)[0]
    name = {"output": "dat", "internal": "dat_internal", "block": "dat_block"}[settings.mode]
    return run_epochs(name, step, model=model, optimizers={"opt": opt, "predictors": opt_p},
                      data=data, settings=settings, processor=processor, run_path=run_path,
                      resume=resume, control=control, progress=progress,
                      modules={"predictors": predictors}, generators={"warmup": warm_gen},
                      step_scalars=("sim_before", "sim_after"),
                      config={"dat": {"mode": settings.mode, "predictor": settings.predictor,
                                      "predictor_layers": layers}})
