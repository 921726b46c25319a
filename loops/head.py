"""The classifier head: detected output intensities -> class scores, and the task loss.

The physical network ends in photodetectors; the head is the (digital) read-out that turns
their intensities into logits. Each class is read from one port (``ports``, default the first
``n_classes``) or from the summed intensity of a group of ports (``groups``). Intensities are
normalised by the total detected power of the read ports, so the logits do not depend on the
absolute optical power (which the EO activations change by orders of magnitude), then
multiplied by a temperature ``scale`` that is learned (log-parametrised) or fixed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ClassifierHead(nn.Module):
    """``logits = scale * I_class / sum(I_class)``; ``I_class`` from ports or port groups."""

    def __init__(self, n_ports: int, n_classes: int = 10, ports: Sequence[int] | None = None,
                 groups: Sequence[Sequence[int]] | None = None, scale: float = 20.0,
                 learn_scale: bool = True, normalize: bool = True) -> None:
        super().__init__()
        if groups is not None:
            if len(groups) != n_classes:
                raise ValueError(f"{len(groups)} port groups for {n_classes} classes")
            m = torch.zeros(n_ports, n_classes)
            for c, g in enumerate(groups):
                m[list(g), c] = 1.0
        else:
            ports = list(range(n_classes)) if ports is None else list(ports)
            if len(ports) != n_classes or max(ports) >= n_ports:
                raise ValueError(f"ports {ports} do not fit {n_classes} classes / {n_ports} ports")
            m = torch.zeros(n_ports, n_classes)
            m[ports, list(range(n_classes))] = 1.0
        self.register_buffer("readout", m)
        self.normalize = bool(normalize)
        log_scale = torch.tensor(math.log(scale))
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    @property
    def scale(self) -> float:
        return float(self.log_scale.exp())

    def forward(self, intensities: torch.Tensor) -> torch.Tensor:
        s = intensities.float() @ self.readout
        if self.normalize:
            s = s / s.sum(-1, keepdim=True).clamp_min(1e-30)
        return self.log_scale.exp() * s


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the class scores."""
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose highest score is the label."""
    return float((logits.argmax(-1) == labels).float().mean()) if len(labels) else float("nan")
