"""Datasets and input encodings for the training loops.

Datasets come back as plain numpy arrays in a :class:`Dataset` (features in [0, 1], float32;
labels int64), split deterministically from a seed. Encodings turn feature vectors into what a
physical system takes as input: complex amplitude vectors for an MZI network, phase patterns
for a diffractive input plane (SLM), spike trains for a spiking chip, int8 for an accelerator.

The IDX reader follows the format of LeCun et al.'s MNIST distribution: a 4-byte magic number
(two zero bytes, a type code, the number of dimensions), one big-endian uint32 per dimension,
then the data in big-endian row-major order.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# IDX type codes -> numpy big-endian dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Dataset:
    """A train/test split: ``x_*`` (n, features) float32 in [0, 1], ``y_*`` (n,) int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int = 10

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` / ``n_test`` samples (splits are already shuffled)."""
        return Dataset(self.name, self.x_train[:n_train], self.y_train[:n_train],
                       self.x_test[:n_test], self.y_test[:n_test], self.n_classes)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with each class split in the same proportion, shuffled by a
    numpy Generator seeded with ``seed`` (same seed -> same split, on any machine)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    tr, te = np.concatenate(train), np.concatenate(test)
    return tr[rng.permutation(len(tr))], te[rng.permutation(len(te))]


def load_digits(seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 samples, 64 features scaled to [0, 1])."""
    from sklearn.datasets import load_digits as _load

    d = _load()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, test_fraction, seed)
    return Dataset("digits", x[tr], y[tr], x[te], y[te], 10)


# -- IDX (MNIST / Fashion-MNIST) ----------------------------------------------------------


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (optionally gzip-compressed) into a native-endian numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic {raw[:4]!r})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_TYPES[code])
    count = math.prod(dims)
    if len(raw) - header < count * dtype.itemsize:
        raise ValueError(f"{path}: truncated IDX data ({len(raw) - header} bytes for {dims})")
    data = np.frombuffer(raw, dtype, count, header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def downsample(images: np.ndarray, n_features: int, crop: int = 0) -> np.ndarray:
    """(n, H, W) images -> (n, n_features) by cropping ``crop`` pixels off each border and
    average pooling (adaptive, so 28 -> 8 works) onto a sqrt(n_features) square grid."""
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"n_features={n_features} is not a square number")
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if crop:
        x = x[:, crop:-crop, crop:-crop]
    x = torch.nn.functional.adaptive_avg_pool2d(x[:, None], (side, side))[:, 0]
    return x.reshape(len(x), n_features).numpy()


_IDX_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _find(root: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        for cand in (root / name, root / f"{name}.gz"):
            if cand.exists():
                return cand
    raise FileNotFoundError(f"none of {names} (or .gz) in {root}")


def load_idx_dataset(root: str | Path, n_features: int = 64, crop: int = 0,
                     name: str = "mnist", n_train: int | None = None,
                     n_test: int | None = None) -> Dataset:
    """MNIST or Fashion-MNIST (same file names) from local IDX files in ``root``; pixel values
    scaled to [0, 1] and downsampled to ``n_features``. The official train/test split is kept;
    ``n_train`` / ``n_test`` take the first samples."""
    root = Path(root)
    parts = {k: read_idx(_find(root, v)) for k, v in _IDX_NAMES.items()}
    xs = {k: downsample(parts[f"{k}_images"][slice(n)] / 255.0, n_features, crop)
          for k, n in (("train", n_train), ("test", n_test))}
    return Dataset(name, xs["train"], parts["train_labels"][:n_train].astype(np.int64),
                   xs["test"], parts["test_labels"][:n_test].astype(np.int64), 10)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (for tests and for exporting small datasets)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    body = array.astype(np.dtype(_IDX_TYPES[code])).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(head + body)


# -- encodings ----------------------------------------------------------------------------


def amplitude_encode(x: np.ndarray | torch.Tensor, n_ports: int, power: float = 1.0
                     ) -> torch.Tensor:
    """Features (B, F) -> complex64 input amplitudes (B, n_ports): negative values clipped to
    0, zero-padded or truncated to ``n_ports``, each row scaled to total power ``power``
    (an all-zero row stays zero)."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)).clamp_min(0.0)
    if x.shape[1] < n_ports:
        x = torch.nn.functional.pad(x, (0, n_ports - x.shape[1]))
    x = x[:, :n_ports]
    norm = x.square().sum(1, keepdim=True).sqrt().clamp_min(1e-12)
    return (x * (math.sqrt(power) / norm)).to(torch.complex64)


def phase_encode(x: np.ndarray | torch.Tensor, shape: tuple[int, int],
                 depth: float = math.pi, pad_value: float = 0.0) -> torch.Tensor:
    """Features (B, h*w) in [0, 1] -> unit-amplitude complex field (B, *shape) on an input
    plane (SLM), phase ``depth * x``; the h x w image (square) is centred on the plane."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    side = math.isqrt(x.shape[1])
    img = x.reshape(len(x), side, side)
    ny, nx = shape
    if side > ny or side > nx:
        raise ValueError(f"{side}x{side} image does not fit a {shape} plane")
    plane = torch.full((len(x), ny, nx), pad_value, dtype=torch.float32)
    y0, x0 = (ny - side) // 2, (nx - side) // 2
    plane[:, y0:y0 + side, x0:x0 + side] = img
    return torch.polar(torch.ones_like(plane), depth * plane)


def spike_encode(x: np.ndarray | torch.Tensor, steps: int, seed: int = 0,
                 max_rate: float = 1.0) -> torch.Tensor:
    """Features in [0, 1] -> Bernoulli rate-coded spike trains (steps, B, F) float32, drawn
    from a generator seeded with ``seed``."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)).clamp(0.0, 1.0) * max_rate
    g = torch.Generator().manual_seed(int(seed))
    return (torch.rand((steps, *x.shape), generator=g) < x).float()


def int8_encode(x: np.ndarray | torch.Tensor, scale: float = 1.0 / 127.0) -> torch.Tensor:
    """Features -> int8 with ``q = round(x / scale)`` clipped to [-128, 127] (the input
    quantisation of an int8 accelerator; scale 1/127 maps [0, 1] onto 0..127)."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    return torch.round(x / scale).clamp(-128, 127).to(torch.int8)


def batch_indices(n: int, batch_size: int, generator: torch.Generator | None,
                  drop_last: bool = False) -> list[torch.Tensor]:
    """A shuffled (or, with ``generator=None``, ordered) split of range(n) into batches."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    out = list(order.split(batch_size))
    if drop_last and out and len(out[-1]) < batch_size:
        out.pop()
    return out
