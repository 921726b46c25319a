"""In-silico training: Adam on the twin alone, then deployment on the physical system.

The twin knows none of the device's systematic errors, so the deployed accuracy
(:attr:`LoopResult.accuracy`, measured on the processor after programming the trained phases)
shows what those errors cost; the twin's own test accuracy is the error-free reference.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hilt.instruments.mesh_processor import MeshProcessor

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


def train_insilico(twin: nn.Module, data: Dataset, settings: TrainSettings | None = None, *,
                   processor: MeshProcessor | None = None, head: ClassifierHead | None = None,
                   init_state: dict[str, Any] | None = None, run_path: str | None = None,
                   resume: bool = False, control: LoopControl | None = None,
                   progress: ProgressCallback | None = None) -> LoopResult:
    """Train a copy of ``twin`` (+ head) on ``data``; with ``processor``, deploy the result and
    report the physical test accuracy (no physical query is made while training)."""
    settings = settings or TrainSettings()
    model = start_model(twin, data, settings, head, init_state)
    opt = head_and_phase_optimizer(model, settings)

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], dict]:
        opt.zero_grad(set_to_none=True)
        out = model.twin(x, settings.twin_method)
        loss = task_loss(model.head(out), y)
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}, {"inputs": x.numpy(), "twin": out.detach().numpy()}

    return run_epochs("insilico", step, model=model, optimizers={"opt": opt}, data=data,
                      settings=settings, processor=processor, run_path=run_path, resume=resume,
                      control=control, progress=progress, deploy_eval=processor is not None)
