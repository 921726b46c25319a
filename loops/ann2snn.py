"""ANN-to-SNN conversion for the spiking chip, with layer-wise calibration on the device.

Method after Li et al., "Converting artificial neural networks to spiking neural networks via
parameter calibration" (arXiv:2205.10121): a ReLU network's activation ``a_l`` is carried by the
firing rate ``r_l`` (spikes per tick) of integrate-and-fire neurons. With per-layer activation
scales ``lambda_l`` (a high percentile of ``a_l`` on data, "threshold balancing"; ``lambda_0 = 1``
for inputs already in [0, 1]) and threshold ``theta``, a neuron with subtract reset fires at

    r_l ~= clip((W'_l r_{l-1} + b'_l) / theta, 0, 1),   W'_l = theta W_l lambda_{l-1} / lambda_l,
                                                         b'_l = theta b_l / lambda_l,

so ``r_l ~= a_l / lambda_l`` up to the clipping and flooring errors the paper analyses. The
residual error is then measured on a small calibration set and removed layer by layer, each layer
fed by the already-calibrated layers below it (the paper's sequential scheme):

* light calibration (``mode="bias"``): the per-neuron mean of ``a_l / lambda_l - r_l`` is added
  to the bias (times ``theta``: one tick's worth of charge per unit of rate), and the initial
  membrane potential is set to ``theta / 2``, which centres the flooring error of a count of
  spikes (the paper's potential correction);
* advanced calibration (``mode="bias+weights"``): then a few Adam steps on the layer's weights
  minimise ``|| r_l - a_l / lambda_l ||^2``.

On the chip the calibration *measures* the physical device (hidden per-neuron threshold and leak
mismatch from ``.with_errors(preset, seed)``, which no twin knows); the gradient of the measured
rate is taken through the error-free twin (physics-aware training: forward on hardware, backward
through the model), either through the twin's rate model ``clip(W'x/theta, 0, 1)`` (the
straight-through form the paper uses, ``grad="rate"``) or by BPTT through the twin's LIF dynamics
with the surrogate spike derivative (``grad="surrogate"``).

The chip's :class:`~hilt.sims.physics.SpikingLayer` has no bias register and always starts from
``v = 0``; like TrueNorth-style cores, :class:`ConvertedSNN` gives every layer two extra input
lines: one that fires on every tick (its int8 weight is the bias current) and one that fires on
tick 0 only (its weight is the initial potential). Bias and initial potential are therefore int8
weights quantised on the same per-layer scale as the synapses, and run through the chip's own
dynamics unchanged.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hilt.sims.physics import SpikingLayer, SpikingNetwork, rate_encode
from hilt.sims.physics.errors import ErrorLevels, error_levels

from .core import Progress
from .data import load_digits

__all__ = [
    "CalibrationReport", "ConvertedSNN", "LayerCalibration", "ann_accuracy", "ann_activations",
    "calibrate_layerwise", "convert", "run_ann2snn_demo", "snn_accuracy", "train_ann",
]

# Aux input lines appended to every layer's input: [always-on (bias), tick-0 only (v_init)].
_N_AUX = 2
BIAS, VINIT = -2, -1


_PASS = (nn.Dropout, nn.Identity, nn.Flatten)


def _leaves(ann: nn.Module) -> list[nn.Module]:
    """The ANN's leaf modules in order; only a Linear/ReLU MLP has a rate equivalent here."""
    leaves = [m for m in ann.modules() if not list(m.children())]
    for m in leaves:
        if not isinstance(m, (nn.Linear, nn.ReLU, *_PASS)):
            raise ValueError(f"cannot convert {type(m).__name__}: expected a Linear/ReLU MLP")
    if not any(isinstance(m, nn.Linear) for m in leaves):
        raise ValueError("the ANN has no nn.Linear layers")
    return leaves


def _linears(ann: nn.Module) -> list[nn.Linear]:
    return [m for m in _leaves(ann) if isinstance(m, nn.Linear)]


def ann_activations(ann: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The post-activation output of every Linear layer of a Linear/ReLU MLP (the last layer's
    raw scores; its ReLU is implied by the spiking neurons, which cannot fire negatively)."""
    acts: list[torch.Tensor] = []
    h = x
    was_training = ann.training
    ann.eval()
    with torch.no_grad():
        for m in _leaves(ann):
            h = m(h)
            if isinstance(m, nn.Linear):
                acts.append(h)
            elif acts and isinstance(m, nn.ReLU):
                acts[-1] = h
    ann.train(was_training)
    return acts


class ConvertedSNN(SpikingNetwork):
    """A :class:`SpikingNetwork` converted from an ANN: rate-coded input over ``timesteps`` ticks,
    per-layer activation scales ``scales`` (ANN activation = scale x firing rate), and two aux
    input lines per layer carrying the bias and the initial membrane potential as int8 weights.

    ``twin()`` and ``with_errors()`` keep the class and share the weights, so calibrating a
    physical chip reprograms the very weights its twin sees.
    """

    def __init__(self, layers: Sequence[SpikingLayer], scales: Sequence[float], timesteps: int,
                 encode_seed: int = 0) -> None:
        super().__init__(layers)
        self.scales = [float(s) for s in scales]
        self.timesteps = int(timesteps)
        self.encode_seed = int(encode_seed)

    def _like(self, layers: Sequence[SpikingLayer]) -> ConvertedSNN:
        return ConvertedSNN(layers, self.scales, self.timesteps, self.encode_seed)

    def twin(self) -> ConvertedSNN:
        return self._like([layer.twin() for layer in self.layers])  # type: ignore[attr-defined]

    def with_errors(self, levels: str | ErrorLevels, seed: int | torch.Generator | None
                    ) -> ConvertedSNN:
        # Same draw order as SpikingNetwork.with_errors: one generator through all layers.
        g = seed if isinstance(seed, torch.Generator) else \
            torch.Generator().manual_seed(0 if seed is None else int(seed))
        return self._like([layer.with_errors(levels, g)  # type: ignore[attr-defined]
                           for layer in self.layers])

    @property
    def threshold(self) -> float:
        return float(self.layers[0].threshold)  # type: ignore[attr-defined]

    @staticmethod
    def augment(spikes: torch.Tensor) -> torch.Tensor:
        """Append the always-on and tick-0 aux lines to a (T, ..., n) raster."""
        on = torch.ones(*spikes.shape[:-1], 1, dtype=spikes.dtype)
        start = torch.zeros_like(on)
        start[0] = 1.0
        return torch.cat([spikes, on, start], dim=-1)

    def encode(self, x: torch.Tensor | np.ndarray, seed: int | None = None) -> torch.Tensor:
        """Features in [0, 1] -> (T, B, n) Bernoulli rate code (seeded: same input, same raster)."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        return rate_encode(x, self.timesteps, seed=self.encode_seed if seed is None else seed)

    def run_layers(self, spikes: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output raster for an input raster (T, B, n_in)."""
        out = []
        for layer in self.layers:
            spikes = layer(self.augment(spikes))
            out.append(spikes)
        return out

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return self.run_layers(spikes)[-1]

    def predict(self, x: torch.Tensor | np.ndarray, seed: int | None = None) -> torch.Tensor:
        """Class = most output spikes; ties go to the class that fired first (a chip-side
        readout: both come from the output raster alone)."""
        with torch.no_grad():
            r = self(self.encode(x, seed))
        steps = r.shape[0]
        ticks = torch.arange(steps, dtype=torch.float32).view(steps, 1, 1)
        first = torch.where(r > 0, ticks, torch.full_like(ticks, float(steps))).amin(0)
        return (r.sum(0) * (steps + 1) + (steps - first)).argmax(-1)


def convert(ann: nn.Module, norm_x: torch.Tensor | np.ndarray | None = None, *,
            timesteps: int = 32, percentile: float = 99.9, threshold: float = 1.0,
            leak: float = 1.0, refractory: int = 0, reset: str = "subtract",
            weight_bits: int = 8, v_init: float = 0.0, encode_seed: int = 0,
            **chip_params: Any) -> ConvertedSNN:
    """Copy a trained Linear/ReLU MLP onto the spiking chip (the naive conversion).

    ``norm_x``: samples for threshold balancing (each layer's scale = the ``percentile`` of its
    positive ANN activations); without them every scale is 1 (the plain weight copy). ``v_init``:
    initial membrane potential as a fraction of the threshold (0 = the chip's reset state; the
    bias calibration sets 0.5). Chip parameters (threshold, leak, refractory, reset, weight_bits,
    surrogate_slope) go to every :class:`SpikingLayer`; IF neurons (leak 1) with subtract reset
    are what the rate equivalence assumes.
    """
    lins = _linears(ann)
    if norm_x is not None:
        x = torch.as_tensor(np.asarray(norm_x, dtype=np.float32))
        scales = []
        for a in ann_activations(ann, x):
            pos = a[a > 0]
            s = float(torch.quantile(pos, percentile / 100.0)) if pos.numel() else 1.0
            scales.append(max(s, 1e-6))
    else:
        scales = [1.0] * len(lins)
    layers = []
    prev = 1.0
    for lin, lam in zip(lins, scales, strict=True):
        layer = SpikingLayer(lin.in_features + _N_AUX, lin.out_features, threshold=threshold,
                             leak=leak, refractory=refractory, weight_bits=weight_bits,
                             reset=reset, **chip_params)
        with torch.no_grad():
            w = torch.zeros(lin.out_features, lin.in_features + _N_AUX)
            w[:, :lin.in_features] = threshold * lin.weight.detach() * prev / lam
            if lin.bias is not None:
                w[:, BIAS] = threshold * lin.bias.detach() / lam
            w[:, VINIT] = v_init * threshold
            layer.weight.copy_(w)
        layers.append(layer)
        prev = lam
    return ConvertedSNN(layers, scales, timesteps, encode_seed)


# -- calibration --------------------------------------------------------------------------------


@dataclass
class LayerCalibration:
    """Rate errors of one layer on the calibration set (RMS of r_snn - a_ann/scale, in spikes
    per tick; ``mean_*``: RMS over neurons of the per-neuron mean error, what bias removes)."""

    layer: int
    rmse_before: float
    mean_before: float
    rmse_after_bias: float
    mean_after_bias: float
    rmse_after_weights: float | None = None
    mean_after_weights: float | None = None
    weight_losses: list[float] = field(default_factory=list)
    physical_runs: int = 0
    seconds: float = 0.0

    @property
    def rmse_after(self) -> float:
        return self.rmse_after_bias if self.rmse_after_weights is None \
            else self.rmse_after_weights


@dataclass
class CalibrationReport:
    mode: str
    timesteps: int
    n_calib: int
    layers: list[LayerCalibration]
    physical_runs: int  # chip runs of the calibration set (one layer probed per run)
    physical_samples: int
    seconds: float
    aborted: bool = False

    def summary(self) -> list[dict[str, Any]]:
        return [{"layer": c.layer, "rmse_before": round(c.rmse_before, 4),
                 "rmse_after_bias": round(c.rmse_after_bias, 4),
                 "rmse_after_weights": None if c.rmse_after_weights is None
                 else round(c.rmse_after_weights, 4)} for c in self.layers]


def _errors(rate: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    e = rate - target
    return float(e.square().mean().sqrt()), float(e.mean(0).square().mean().sqrt())


def _aborted(abort: Callable[[], bool] | Any | None) -> bool:
    if abort is None:
        return False
    if callable(abort):
        return bool(abort())
    return bool(getattr(abort, "aborted", False))  # a LoopControl


def calibrate_layerwise(ann: nn.Module, snn_physical: ConvertedSNN,
                        calib_x: torch.Tensor | np.ndarray, *, mode: str = "bias",
                        steps: int = 30, lr: float = 0.05, bias_iters: int = 3,
                        grad: str = "rate", seed: int = 0,
                        progress: Callable[[Progress], None] | None = None,
                        abort: Callable[[], bool] | Any | None = None) -> CalibrationReport:
    """Calibrate a converted network on the (physical) chip, layer by layer, in place.

    Each layer sees the calibrated chip's own spikes from the layer below and is fitted to the
    ANN's activation on the clean input. ``mode``: ``"bias"`` (light: initial potential theta/2,
    then ``bias_iters`` measured bias shifts) or ``"bias+weights"`` (then ``steps`` Adam steps of
    ``lr`` on the layer's weights, gradient through the twin by ``grad`` = ``"rate"`` or
    ``"surrogate"``; the best measured weights are kept). ``abort`` (a callable returning True, or
    a :class:`~hilt.loops.LoopControl`) is checked between layers: the layers done stay
    calibrated and the report says ``aborted``. ``progress`` gets a :class:`Progress` per chip run.
    """
    if mode not in ("bias", "bias+weights"):
        raise ValueError(f"mode {mode!r}: expected 'bias' or 'bias+weights'")
    if grad not in ("rate", "surrogate"):
        raise ValueError(f"grad {grad!r}: expected 'rate' or 'surrogate'")
    t0 = time.perf_counter()
    x = torch.as_tensor(np.asarray(calib_x, dtype=np.float32))
    targets = [(a / s).clamp(0.0, 1.0) for a, s in
               zip(ann_activations(ann, x), snn_physical.scales, strict=True)]
    twin = snn_physical.twin()
    n_layers = len(snn_physical.layers)
    per_layer = (bias_iters + 3) + (steps + 1 if mode == "bias+weights" else 0)
    report = CalibrationReport(mode, snn_physical.timesteps, len(x), [], 0, 0, 0.0)
    spikes = snn_physical.encode(x, seed)
    method = f"ann2snn-{mode}"

    for li in range(n_layers):
        if _aborted(abort):
            report.aborted = True
            break
        t_layer = time.perf_counter()
        phys: SpikingLayer = snn_physical.layers[li]  # type: ignore[assignment]
        model: SpikingLayer = twin.layers[li]  # type: ignore[assignment]
        thr = phys.threshold
        x_in = ConvertedSNN.augment(spikes)
        target = targets[li]
        runs = 0

        def measure(stage: str, x_in: torch.Tensor = x_in, target: torch.Tensor = target,
                    phys: SpikingLayer = phys, li: int = li
                    ) -> tuple[torch.Tensor, torch.Tensor, float]:
            # One chip run of the calibration set with this layer's spikes probed.
            nonlocal runs
            with torch.no_grad():
                raster = phys(x_in)
            r = raster.mean(0)
            runs += 1
            report.physical_runs += 1
            report.physical_samples += len(x)
            rmse = _errors(r, target)[0]
            if progress is not None:
                progress(Progress(method, li, n_layers, runs - 1, per_layer,
                                  li * per_layer + runs - 1, rmse, report.physical_samples,
                                  time.perf_counter() - t0, metrics={f"{stage}_rmse": rmse}))
            return raster, r, rmse

        _, r, _ = measure("naive")
        rmse0, mean0 = _errors(r, target)

        # Light calibration: centre the flooring error, then move the bias by the measured mean
        # error; the rate is linear in the bias only where a neuron fires, so iterate a few times.
        with torch.no_grad():
            phys.weight[:, VINIT] = 0.5 * thr
        best_err = torch.full((phys.n_out,), float("inf"))
        best_w = phys.weight.detach().clone()
        for i in range(bias_iters + 1):
            _, r, _ = measure("bias")
            # Per neuron, keep the best measured setting (each neuron's rate is its own).
            err = (r - target).square().mean(0)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best_w[better] = phys.weight.detach()[better]
            if i < bias_iters:
                with torch.no_grad():
                    phys.weight[:, BIAS] += thr * (target - r).mean(0)
        with torch.no_grad():
            phys.weight.copy_(best_w)
        raster, r, _ = measure("bias")
        cal = LayerCalibration(li, rmse0, mean0, *_errors(r, target))

        if mode == "bias+weights":
            x_rate = x_in.mean(0)
            # Adam moves every weight by about lr at once: divide by the mean summed input rate
            # so that a step shifts a neuron's drive by about lr * theta, whatever its fan-in.
            activity = float(x_rate.sum(-1).mean().clamp_min(1.0))
            opt = torch.optim.Adam([phys.weight], lr=lr * thr / activity)
            # Neurons are independent given the layer's input, and the chip reports each one's
            # rate: keep, per neuron, the weights of its best measured step.
            best_err = (r - target).square().mean(0)
            best_w = phys.weight.detach().clone()
            for _ in range(steps):
                opt.zero_grad()
                if grad == "rate":
                    r_model = (x_rate @ model.quantized_weight().T / thr).clamp(0.0, 1.0)
                else:
                    r_model = model(x_in).mean(0)
                # Physics-aware: the value is the chip's measured rate, the slope the twin's.
                r_pa = r.detach() + r_model - r_model.detach()
                (r_pa - target).square().mean().backward()
                opt.step()
                _, r, rmse = measure("weights")
                cal.weight_losses.append(rmse)
                err = (r - target).square().mean(0)
                better = err < best_err
                best_err = torch.where(better, err, best_err)
                best_w[better] = phys.weight.detach()[better]
            phys.weight.grad = None
            with torch.no_grad():
                phys.weight.copy_(best_w)
            raster, r, _ = measure("weights")
            cal.rmse_after_weights, cal.mean_after_weights = _errors(r, target)

        spikes = raster  # the calibrated layer's own spikes feed the next layer
        cal.physical_runs = runs
        cal.seconds = time.perf_counter() - t_layer
        report.layers.append(cal)
    report.seconds = time.perf_counter() - t0
    return report


# -- training, evaluation, demo -----------------------------------------------------------------


def train_ann(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray,
              sizes: Sequence[int] = (64, 128, 10), epochs: int = 150, lr: float = 0.01,
              batch_size: int = 128, seed: int = 0) -> nn.Sequential:
    """A Linear/ReLU MLP trained by Adam on cross-entropy (all randomness from ``seed``)."""
    g = torch.Generator().manual_seed(seed)
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            bound = 1.0 / a**0.5
            lin.weight.uniform_(-bound, bound, generator=g)
            lin.bias.uniform_(-bound, bound, generator=g)
        mods.append(lin)
        if i < len(sizes) - 2:
            mods.append(nn.ReLU())
    ann = nn.Sequential(*mods)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y)).long()
    opt = torch.optim.Adam(ann.parameters(), lr=lr, weight_decay=1e-4)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=g).split(batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(ann(xt[idx]), yt[idx]).backward()
            opt.step()
    ann.eval()
    return ann


def ann_accuracy(ann: nn.Module, x: torch.Tensor | np.ndarray,
                 y: torch.Tensor | np.ndarray) -> float:
    with torch.no_grad():
        pred = ann(torch.as_tensor(np.asarray(x, dtype=np.float32))).argmax(-1)
    return float((pred == torch.as_tensor(np.asarray(y))).float().mean())


def snn_accuracy(snn: ConvertedSNN, x: torch.Tensor | np.ndarray,
                 y: torch.Tensor | np.ndarray, seed: int = 1) -> float:
    """Accuracy of the chip's spike-count readout (test inputs encoded with ``seed``)."""
    pred = snn.predict(x, seed)
    return float((pred == torch.as_tensor(np.asarray(y))).float().mean())


def run_ann2snn_demo(seed: int = 0, timesteps: Sequence[int] = (16, 32, 64),
                     errors: str | ErrorLevels = "severe", chip_seed: int = 1, n_calib: int = 256,
                     steps: int = 30, grad: str = "rate", ann_epochs: int = 150,
                     progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Digits, a 64-128-10 ReLU MLP, converted to the chip and calibrated on the physical chip
    (``errors``: a preset name or :class:`ErrorLevels`, drawn from ``chip_seed``) for each T;
    test-set accuracies and times. Calibration uses the first ``n_calib`` training samples."""
    t_all = time.perf_counter()
    levels = error_levels(errors)
    data = load_digits(seed)
    t0 = time.perf_counter()
    ann = train_ann(data.x_train, data.y_train, epochs=ann_epochs, seed=seed)
    t_train = time.perf_counter() - t0
    out: dict[str, Any] = {
        "seed": seed, "errors": errors if isinstance(errors, str) else "custom",
        "threshold_mismatch": levels.threshold_mismatch, "leak_mismatch": levels.leak_mismatch,
        "chip_seed": chip_seed, "n_calib": n_calib,
        "n_test": len(data.y_test), "steps": steps, "grad": grad,
        "ann_accuracy": ann_accuracy(ann, data.x_test, data.y_test),
        "ann_train_s": round(t_train, 2), "results": [],
    }
    calib = data.x_train[:n_calib]
    for T in timesteps:
        t0 = time.perf_counter()
        snn = convert(ann, data.x_train, timesteps=T)
        chip = snn.with_errors(levels, chip_seed)
        row: dict[str, Any] = {"timesteps": T}
        row["twin_naive"] = snn_accuracy(snn, data.x_test, data.y_test)
        row["physical_naive"] = snn_accuracy(chip, data.x_test, data.y_test)
        row["convert_eval_s"] = round(time.perf_counter() - t0, 2)
        for mode, key in (("bias", "bias"), ("bias+weights", "weights")):
            c = copy.deepcopy(chip)
            rep = calibrate_layerwise(ann, c, calib, mode=mode, steps=steps, grad=grad,
                                      seed=seed, progress=progress)
            row[f"physical_{key}"] = snn_accuracy(c, data.x_test, data.y_test)
            row[f"{key}_s"] = round(rep.seconds, 2)
            row[f"{key}_layers"] = rep.summary()
            row[f"{key}_chip_runs"] = rep.physical_runs
        out["results"].append(row)
    out["seconds"] = round(time.perf_counter() - t_all, 2)
    return out


def _table(res: dict[str, Any]) -> str:
    lines = [f"ANN accuracy {res['ann_accuracy']:.4f}  (errors={res['errors']}, threshold/leak "
             f"mismatch {res['threshold_mismatch']}/{res['leak_mismatch']}, chip_seed={res['chip_seed']}, n_calib={res['n_calib']}, n_test={res['n_test']})",
             "| T | twin naive | chip naive | chip +bias | chip +bias+weights | bias s | "
             "weights s |", "|---|---|---|---|---|---|---|"]
    for r in res["results"]:
        lines.append(f"| {r['timesteps']} | {r['twin_naive']:.4f} | {r['physical_naive']:.4f} | "
                     f"{r['physical_bias']:.4f} | {r['physical_weights']:.4f} | {r['bias_s']} | "
                     f"{r['weights_s']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``python -m hilt.loops.ann2snn [--errors severe] [--threshold-mismatch 0.3] ...``"""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m hilt.loops.ann2snn", description=main.__doc__)
    ap.add_argument("--errors", default="severe", help="error preset of the physical chip")
    ap.add_argument("--threshold-mismatch", type=float, default=None)
    ap.add_argument("--leak-mismatch", type=float, default=None)
    ap.add_argument("--chip-seed", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timesteps", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--grad", choices=("rate", "surrogate"), default="rate")
    ap.add_argument("--json", action="store_true", help="also print the full result as JSON")
    a = ap.parse_args(argv)
    over = {k: v for k, v in (("threshold_mismatch", a.threshold_mismatch),
                              ("leak_mismatch", a.leak_mismatch)) if v is not None}
    levels: str | ErrorLevels = error_levels(a.errors, **over) if over else a.errors
    torch.set_num_threads(1)
    res = run_ann2snn_demo(a.seed, a.timesteps, levels, a.chip_seed, grad=a.grad)
    print(_table(res))
    if a.json:
        print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
