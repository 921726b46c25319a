"""Physics-aware training (PAT; Wright et al., Nature 601, 549 (2022)): forward pass on the
hardware, backward pass through the twin.

Two equivalent ways to write it are provided:

- :class:`PhysicalForward`, a ``torch.autograd.Function`` whose forward programs the processor
  and runs the batch on it, and whose backward is the twin's vector-Jacobian product at the
  same inputs and parameters (the twin is re-run in backward, so the graph is not kept).
- :func:`substitute`: ``y = y_twin + (y_measured - y_twin).detach()``, which has the measured
  value and the twin's Jacobian; the loop uses this form because it also yields the twin's
  prediction for the run file's captures without a second twin forward.

Both give the same gradient (tested); with hardware == twin it is the exact twin gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from hilt.instruments.mesh_processor import MeshPhases, MeshProcessor

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


def _phases_from(params: tuple[torch.Tensor, ...]) -> list[MeshPhases]:
    return [MeshPhases(*(p.detach().numpy().copy() for p in params[i:i + 3]))
            for i in range(0, len(params), 3)]


class PhysicalForward(torch.autograd.Function):
    """``PhysicalForward.apply(x, processor, twin, method, *phase_params)`` -> measured
    intensities (B, N); ``phase_params`` are each mesh's (theta, phi, out_phase) in order."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, processor: MeshProcessor, twin: nn.Module,
                method: str, *params: torch.Tensor) -> torch.Tensor:
        processor.load_phases(_phases_from(params))
        out, _ = processor.run(x.detach().numpy())
        ctx.save_for_backward(x, *params)
        ctx.twin, ctx.method = twin, method
        return torch.as_tensor(np.asarray(out, dtype=np.float32))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, *params = ctx.saved_tensors
        twin_params = [p for m in ctx.twin.meshes for p in (m.theta, m.phi, m.out_phase)]
        with torch.enable_grad():
            out = ctx.twin(x, ctx.method)
            grads = torch.autograd.grad(out, twin_params, grad, allow_unused=True)
        return (None, None, None, None, *grads)


def physical_forward(processor: MeshProcessor, twin: nn.Module, x: torch.Tensor,
                     method: str = "columns") -> torch.Tensor:
    """Measured intensities with the twin's backward (the :class:`PhysicalForward` form)."""
    params = [p for m in twin.meshes for p in (m.theta, m.phi, m.out_phase)]
    return PhysicalForward.apply(x, processor, twin, method, *params)


def substitute(twin_out: torch.Tensor, measured: torch.Tensor) -> torch.Tensor:
    """The measured values in the forward pass, the twin's Jacobian in the backward pass."""
    return twin_out + (measured.to(twin_out.dtype) - twin_out).detach()


def train_pat(processor: MeshProcessor, twin: nn.Module, data: Dataset,
              settings: TrainSettings | None = None, *, head: ClassifierHead | None = None,
              init_state: dict[str, Any] | None = None, run_path: str | None = None,
              resume: bool = False, control: LoopControl | None = None,
              progress: ProgressCallback | None = None) -> LoopResult:
    """Physics-aware training on ``processor``: one physical query of each batch per step."""
    settings = settings or TrainSettings()
    model = start_model(twin, data, settings, head, init_state)
    opt = head_and_phase_optimizer(model, settings)

    def step(x: torch.Tensor, y: torch.Tensor, _step: int) -> tuple[dict[str, float], dict]:
        opt.zero_grad(set_to_none=True)
        processor.load_phases(model.phases())
        measured, _ = processor.run(x.numpy())
        measured_t = torch.as_tensor(np.asarray(measured, dtype=np.float32))
        twin_out = model.twin(x, settings.twin_method)
        loss = task_loss(model.head(substitute(twin_out, measured_t)), y)
        loss.backward()
        opt.step()
        return ({"loss": float(loss.detach())},
                {"inputs": x.numpy(), "physical": measured_t.numpy(),
                 "twin": twin_out.detach().numpy()})

    return run_epochs("pat", step, model=model, optimizers={"opt": opt}, data=data,
                      settings=settings, processor=processor, run_path=run_path, resume=resume,
                      control=control, progress=progress)
