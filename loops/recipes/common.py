"""What every recipe shares: image metrics, the table, the two figure kinds, and the run file of
the physical output images a recipe measured.

Metrics (both per image pair, batched: ``(n, H, W)`` or ``(H, W)`` in, one value per pair out):

- :func:`pearson`: the Pearson correlation coefficient of the two images' pixel values, the
  imaging metric of the class-specific camera and diffuser papers (Bai et al. 2022, Luo et al.
  2022). Insensitive to scale and offset, so an output read in watts compares to an input read
  in arbitrary units.
- :func:`ssim`: the structural similarity index of Wang et al. (IEEE Trans. Image Process. 13,
  600, 2004), written here with torch (scikit-image is not a hilt dependency): an 11 x 11
  Gaussian window of sigma 1.5 (smaller, odd, on images under 11 pixels), K1 = 0.01,
  K2 = 0.03, data range 1, the mean of the SSIM map over the window positions inside the image
  (no padding, as scikit-image with ``gaussian_weights=True`` averages it). Each image is first
  scaled to [0, 1] by its own minimum and maximum, so that a detector's units do not matter
  (an all-constant image becomes all zeros).

Outputs: :func:`write_table` (``table.json`` + ``table.md``), :func:`image_rows_figure` (the
papers' rows of input / output / target images), :func:`metric_vs_error_figure` (a metric
against the error level, one line per series). :class:`ImageRun` records measured output
images in a hilt run file (:mod:`hilt.runfile`; docs/run-file.md): stream ``outputs`` with the
input image as ``inputs``, the measured output as ``physical`` and the twin's prediction as
``twin``; read it back with ``hilt.runfile.open_run(path).captures("outputs")``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ArrayLike = Any  # numpy array or torch tensor


def _as_batch(a: ArrayLike) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a),
                        dtype=torch.float64)
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3:
        raise ValueError(f"images of shape {tuple(t.shape)}: expected (H, W) or (n, H, W)")
    return t


def pearson(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """Pearson correlation of each image pair over its pixels, shape (n,); 0 where an image is
    constant (no correlation can be measured)."""
    x, y = _as_batch(a), _as_batch(b)
    if x.shape != y.shape:
        raise ValueError(f"image shapes differ: {tuple(x.shape)} and {tuple(y.shape)}")
    x = x.flatten(1) - x.flatten(1).mean(1, keepdim=True)
    y = y.flatten(1) - y.flatten(1).mean(1, keepdim=True)
    den = torch.sqrt((x * x).sum(1) * (y * y).sum(1))
    r = torch.where(den > 0, (x * y).sum(1) / den.clamp_min(1e-300), torch.zeros_like(den))
    return r.numpy()


def normalise01(a: ArrayLike) -> np.ndarray:
    """Each image scaled to [0, 1] by its own minimum and maximum (constant images -> 0)."""
    x = _as_batch(a)
    lo = x.flatten(1).min(1).values[:, None, None]
    hi = x.flatten(1).max(1).values[:, None, None]
    span = hi - lo
    return torch.where(span > 0, (x - lo) / span.clamp_min(1e-300), torch.zeros_like(x)).numpy()


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-r * r / (2 * sigma * sigma))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: ArrayLike, b: ArrayLike, window: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Structural similarity (Wang et al. 2004) of each image pair, shape (n,); see the module
    docstring for the window, constants and normalisation."""
    x = torch.as_tensor(normalise01(a))
    y = torch.as_tensor(normalise01(b))
    if x.shape != y.shape:
        raise ValueError(f"image shapes differ: {tuple(x.shape)} and {tuple(y.shape)}")
    size = min(int(window), *x.shape[-2:])
    size -= (size + 1) % 2  # odd
    w = _gaussian_window(size, sigma)
    c1, c2 = 0.01**2, 0.03**2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t[:, None], w)[:, 0]

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    # Unbiased covariances, as Wang et al.'s reference code and scikit-image use.
    n = size * size
    corr = n / (n - 1) if n > 1 else 1.0
    vx, vy, cxy = vx * corr, vy * corr, cxy * corr
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return smap.flatten(1).mean(1).numpy()


# -- the table ------------------------------------------------------------------------------


def config_json(cfg: Any) -> dict[str, Any]:
    """A recipe's configuration dataclass as JSON values (what its run files and studies record;
    anything JSON has no type for, as its string)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "–"
        return f"{f:.3g}" if abs(f) < 1e-2 and f != 0 else f"{f:.3f}"
    return str(v)


def markdown_table(rows: Sequence[Mapping[str, Any]], title: str = "") -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (columns in the first row's key order)."""
    if not rows:
        return f"**{title}**\n\n(no rows)\n" if title else "(no rows)\n"
    cols = list(rows[0])
    for r in rows[1:]:
        cols += [k for k in r if k not in cols]
    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


def write_table(rows: Sequence[Mapping[str, Any]], out_dir: str | Path, title: str,
                name: str = "table") -> tuple[Path, Path, str]:
    """Write ``rows`` as ``NAME.json`` (``{"title", "rows"}``; NaN as null) and ``NAME.md``
    under ``out_dir``; returns (json path, Markdown path, the Markdown)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown_table(rows, title)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    data = {"title": title, "rows": [{k: _jsonable(v) for k, v in r.items()} for r in rows]}
    json_path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    md_path.write_text(md)
    return json_path, md_path, md


# -- figures ---------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_rows_figure(rows: Mapping[str, ArrayLike], path: str | Path,
                      titles: Sequence[str] | None = None, suptitle: str = "",
                      cell_inches: float = 1.1, dpi: int = 90,
                      vrange: tuple[float, float] | None = None) -> Path:
    """One row of images per entry of ``rows`` (label -> (n, H, W)), as the papers show input /
    output / target; grey, each image scaled to its own range, or all to ``vrange`` (e.g.
    (0, 1) for images already scaled, so that an erased output shows dark); ``titles``: one
    per column."""
    plt = _pyplot()
    batches = {k: np.asarray(_as_batch(v)) for k, v in rows.items()}
    n_cols = max(len(b) for b in batches.values())
    fig, axes = plt.subplots(len(batches), n_cols, squeeze=False,
                             figsize=(0.9 + cell_inches * n_cols, 0.25 + cell_inches * len(batches)))
    for r, (label, imgs) in enumerate(batches.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(imgs):
                lo, hi = vrange if vrange is not None else (None, None)
                ax.imshow(imgs[c], cmap="gray", interpolation="nearest", vmin=lo, vmax=hi)
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            if r == 0 and titles is not None and c < len(titles):
                ax.set_title(titles[c], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=8)
    fig.tight_layout(pad=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def metric_vs_error_figure(xs: Sequence[Any], series: Mapping[str, Sequence[float]],
                           path: str | Path, xlabel: str, ylabel: str, title: str = "",
                           dpi: int = 90) -> Path:
    """A metric against the error level: ``xs`` (numbers or names, in order), one line with
    markers per entry of ``series`` (label -> one value per x; NaN leaves a gap)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    positions = list(range(len(xs)))
    numeric = all(isinstance(x, (int, float, np.number)) for x in xs)
    for label, ys in series.items():
        ax.plot(list(xs) if numeric else positions, [float(y) for y in ys], marker="o",
                label=label)
    if not numeric:
        ax.set_xticks(positions, [str(x) for x in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


# -- run files of measured images -------------------------------------------------------------


class ImageRun:
    """A run file holding the output images a recipe measured (stream ``outputs``).

    ::

        with ImageRun(out_dir / "deployed-severe.h5", input_shape=(24, 24),
                      output_shape=(24, 24), config={"recipe": "class-camera"}) as run:
            run.capture(step=0, inputs=x, physical=measured, twin=predicted, sample_idx=idx)

    ``inputs``/``physical``/``twin`` are (n, *shape) arrays; ``twin`` may be left out. A
    clean exit marks the run completed, an exception aborted (the images captured stay).
    """

    STREAM = "outputs"

    def __init__(self, path: str | Path, *, input_shape: Sequence[int],
                 output_shape: Sequence[int], config: Mapping[str, Any] | None = None,
                 station_file: str | Path | None = None,
                 station_snapshot: Mapping[str, Any] | None = None,
                 physical_unit: str = "", input_dtype: str = "float32") -> None:
        from hilt.runfile.layout import CaptureSpec
        from hilt.runfile.writer import RunWriter

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        out = tuple(int(n) for n in output_shape)
        spec = CaptureSpec(input_shape=tuple(int(n) for n in input_shape), input_dtype=input_dtype,
                           physical_shape=out, twin_shape=out, physical_unit=physical_unit,
                           twin_unit=physical_unit, compression="gzip")
        self.writer = RunWriter.create(self.path, captures={self.STREAM: spec},
                                       config=dict(config or {}), station_file=station_file,
                                       station_snapshot=station_snapshot, overwrite=True)
        self.rows = 0

    def capture(self, *, step: int, inputs: ArrayLike, physical: ArrayLike,
                twin: ArrayLike | None = None, sample_idx: ArrayLike | None = None,
                epoch: int = 0) -> None:
        n = len(physical)
        idx = np.arange(self.rows, self.rows + n) if sample_idx is None else np.asarray(sample_idx)
        self.writer.capture(self.STREAM, step=step, epoch=epoch, sample_idx=idx,
                            inputs=_np(inputs), physical=_np(physical),
                            twin=None if twin is None else _np(twin))
        self.rows += n

    def close(self, status: str = "completed", reason: str = "") -> None:
        self.writer.close(status, reason)

    def __enter__(self) -> ImageRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.writer.__exit__(exc_type, exc, tb)


def _np(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def write_image_run(path: str | Path, *, inputs: ArrayLike, physical: ArrayLike,
                    twin: ArrayLike | None = None, sample_idx: ArrayLike | None = None,
                    config: Mapping[str, Any] | None = None, step: int = 0,
                    physical_unit: str = "") -> Path:
    """One batch of measured images in a new run file (see :class:`ImageRun`); its path."""
    x, y = _np(inputs), _np(physical)
    with ImageRun(path, input_shape=x.shape[1:], output_shape=y.shape[1:], config=config,
                  physical_unit=physical_unit) as run:
        run.capture(step=step, inputs=x, physical=y, twin=twin, sample_idx=sample_idx)
    return Path(path)


__all__ = [
    "ImageRun", "image_rows_figure", "markdown_table", "metric_vs_error_figure", "normalise01",
    "pearson", "ssim", "write_image_run", "write_table",
]
