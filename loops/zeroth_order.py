"""Zeroth-order in-situ training: gradients estimated from physical queries alone.

- SPSA (Spall, IEEE TAC 37, 332 (1992)): perturb every trained phase at once by ``+-c delta``
  (delta Rademacher), two queries of the batch, ``g = (L+ - L-) / (2c) * delta``.
- Central finite differences on ``fd_coords`` coordinates drawn per step: two queries each.

For tractability the trained phases are a subset (``subset="last"``: the last mesh;
``"all"``: every mesh). The head is digital and gets its exact gradient from the measured
intensities (mean of the two perturbed measurements). Adam consumes the estimates. Every
query goes through ``processor.run`` and is counted in ``processor.queries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hilt.instruments.mesh_processor import MeshProcessor

from .core import (
    LoopControl,
    LoopResult,
    PhotonicClassifier,
    ProgressCallback,
    TrainSettings,
    run_epochs,
    start_model,
)
from .data import Dataset
from .head import ClassifierHead, task_loss


@dataclass
class ZOSettings(TrainSettings):
    estimator: str = "spsa"  # "spsa" or "fd"
    subset: str = "last"  # "last" or "all"
    c: float = 0.05  # perturbation (rad)
    directions: int = 1  # SPSA directions averaged per step
    fd_coords: int = 16  # coordinates per finite-difference step


def _trained(model: PhotonicClassifier, subset: str) -> list[nn.Parameter]:
    meshes = model.twin.meshes if subset == "all" else model.twin.meshes[-1:]
    if subset not in ("all", "last"):
        raise ValueError(f"subset {subset!r}: expected 'last' or 'all'")
    return [p for m in meshes for p in (m.theta, m.phi, m.out_phase)]


def train_zeroth_order(processor: MeshProcessor, twin: nn.Module, data: Dataset,
                       settings: ZOSettings | None = None, *, head: ClassifierHead | None = None,
                       init_state: dict[str, Any] | None = None, run_path: str | None = None,
                       resume: bool = False, control: LoopControl | None = None,
                       progress: ProgressCallback | None = None) -> LoopResult:
    """SPSA or finite-difference training of a phase subset, measured on ``processor``."""
    settings = settings or ZOSettings()
    if settings.estimator not in ("spsa", "fd"):
        raise ValueError(f"estimator {settings.estimator!r}: expected 'spsa' or 'fd'")
    model = start_model(twin, data, settings, head, init_state)
    params = _trained(model, settings.subset)
    flat = [p.numel() for p in params]
    groups = [{"params": params, "lr": settings.lr}]
    if list(model.head.parameters()) and settings.head_lr > 0:
        groups.append({"params": list(model.head.parameters()), "lr": settings.head_lr})
    opt = torch.optim.Adam(groups)
    zo_gen = torch.Generator().manual_seed(int(settings.seed) + 2)

    def loss_at(x: torch.Tensor, y: torch.Tensor, delta: torch.Tensor
                ) -> tuple[float, torch.Tensor]:
        with torch.no_grad():
            for p, d in zip(params, delta.split(flat), strict=True):
                p.add_(d.view_as(p))
        try:
            processor.load_phases(model.phases())
            out, _ = processor.run(x.numpy())
        finally:
            with torch.no_grad():
                for p, d in zip(params, delta.split(flat), strict=True):
                    p.sub_(d.view_as(p))
        out_t = torch.as_tensor(np.asarray(out, dtype=np.float32))
        with torch.no_grad():
            return float(task_loss(model.head(out_t), y)), out_t

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], dict]:
        n = sum(flat)
        grad = torch.zeros(n)
        outs = []
        if settings.estimator == "spsa":
            for _ in range(settings.directions):
                delta = torch.randint(0, 2, (n,), generator=zo_gen).float() * 2 - 1
                lp, op = loss_at(x, y, settings.c * delta)
                lm, om = loss_at(x, y, -settings.c * delta)
                grad += (lp - lm) / (2 * settings.c) * delta / settings.directions
                outs += [op, om]
        else:
            coords = torch.randperm(n, generator=zo_gen)[:settings.fd_coords]
            for i in coords.tolist():
                e = torch.zeros(n)
                e[i] = settings.c
                lp, op = loss_at(x, y, e)
                lm, om = loss_at(x, y, -e)
                grad[i] = (lp - lm) / (2 * settings.c)
                outs += [op, om]
        opt.zero_grad(set_to_none=True)
        mean_out = torch.stack(outs).mean(0)
        loss = task_loss(model.head(mean_out), y)
        if loss.requires_grad:  # a head with parameters: their exact gradient
            loss.backward()
        for p, g in zip(params, grad.split(flat), strict=True):
            p.grad = g.view_as(p).clone()
        opt.step()
        return {"loss": float(loss.detach())}, {"inputs": x.numpy(), "physical": mean_out.numpy()}

    name = f"{settings.estimator}_{settings.subset}"
    return run_epochs(name, step, model=model, optimizers={"opt": opt}, data=data,
                      settings=settings, processor=processor, run_path=run_path, resume=resume,
                      control=control, progress=progress, generators={"zo": zo_gen},
                      config={"zeroth_order": {"estimator": settings.estimator,
                                               "subset": settings.subset, "c": settings.c}})
