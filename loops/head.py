"""The classifier head: detected output intensities -> class scores, and the task loss.

The physical network ends in photodetectors; the head is the (digital) read-out that turns
their intensities into logits. Each class is read from one port (``ports``, default the first
``n_classes``) or from the summed intensity of a group of ports (``groups``). Heads by name
(:data:`HEADS`, :func:`make_head`):

- ``"dat-l2"`` (the MZI loops' default): the read-out of the DAT benchmark (Zheng et al.,
  Nat. Mach. Intell. 5, 1119 (2023); their code normalises ``|x|^2`` with
  ``torch.nn.functional.normalize`` over *all* output ports and takes the first 10 as logits):
  ``logits = I_class / ||I_all||_2``, no temperature. The loss asks that the light reach the
  class ports: light sent to unread ports lowers every logit.
- ``"sum-norm-temperature"``: the class intensities normalised by their own sum, times a learned
  temperature (log-parametrised, start 20). Blind to light in unread ports, which a trained MZI
  model then fills with most of its power (about 80 % on digits) and which the chip's errors
  scatter back into the class ports (issue 16).
- ``"sum-norm"``: the same with the temperature fixed at 20.

Either normalisation makes the logits independent of the absolute optical power (which the EO
activations change by orders of magnitude).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: Head names :func:`make_head` knows; the first is the default of the MZI loops.
HEADS = ("dat-l2", "sum-norm-temperature", "sum-norm")
DEFAULT_HEAD = "dat-l2"


class ClassifierHead(nn.Module):
    """Class scores from port intensities.

    ``norm="sum"``: ``logits = scale * I_class / sum(I_class)``; ``norm="l2-all"``:
    ``logits = scale * I_class / ||I_all||_2`` (every port, read or not). ``I_class`` from
    ports or port groups; ``scale`` learned (``learn_scale``) or fixed.
    """

    def __init__(self, n_ports: int, n_classes: int = 10, ports: Sequence[int] | None = None,
                 groups: Sequence[Sequence[int]] | None = None, scale: float = 20.0,
                 learn_scale: bool = True, normalize: bool = True, norm: str = "sum") -> None:
        super().__init__()
        if norm not in ("sum", "l2-all"):
            raise ValueError(f"norm {norm!r}: expected 'sum' or 'l2-all'")
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
        self.norm = norm
        log_scale = torch.tensor(math.log(scale))
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    @property
    def scale(self) -> float:
        return float(self.log_scale.exp())

    def forward(self, intensities: torch.Tensor) -> torch.Tensor:
        intensities = intensities.float()
        s = intensities @ self.readout
        if self.normalize:
            if self.norm == "sum":
                s = s / s.sum(-1, keepdim=True).clamp_min(1e-30)
            else:
                s = s / intensities.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        return self.log_scale.exp() * s

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}, scale={self.scale:.4g}"


def make_head(name: str, n_ports: int, n_classes: int = 10,
              ports: Sequence[int] | None = None) -> ClassifierHead:
    """The head called ``name`` (:data:`HEADS`, module docstring) on ``n_ports`` detectors."""
    if name == "dat-l2":
        return ClassifierHead(n_ports, n_classes, ports, scale=1.0, learn_scale=False,
                              norm="l2-all")
    if name == "sum-norm-temperature":
        return ClassifierHead(n_ports, n_classes, ports)
    if name == "sum-norm":
        return ClassifierHead(n_ports, n_classes, ports, learn_scale=False)
    raise ValueError(f"head {name!r}: expected one of {', '.join(HEADS)}")


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the class scores."""
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose highest score is the label."""
    return float((logits.argmax(-1) == labels).float().mean()) if len(labels) else float("nan")
