"""Physics throughput: diffractive propagation and MZI meshes (run: python bench/physics_bench.py).

Diffraction: a batch of 64 fields of 200x200 through 5 phase layers (THz D2NN geometry,
0.4 THz, 0.4 mm pixels, 3 cm gaps), i.e. 6 propagations and 5 modulations per field, compared
with a bare torch.fft implementation of the same math (same padded grid, same transfer
function) in the same run, and with the other open-source simulators on PyPI if they are
installed (LightPipes, diffractsim, torchoptics, waveprop): same input fields, same masks, same
400x400 window (2x, i.e. 100 px of zeros on each side), each layer's aperture blocks the light
outside its 200x200 pixels, output intensity on the 200x200 output plane. Each tool is checked
against hilt (Pearson correlation of the output intensity, for one plain 3 cm propagation and for
the whole 5-layer stack) before it is timed. A tool that cannot be imported is skipped with the
reason. MZI: a 64-mode Clements mesh, batch 256.

The machine may be shared: every rate is reported as median [min-max] over the repeats, and all
diffraction contenders (hilt, the bare torch.fft version, the other simulators) are timed
round-robin, one call each per round, so that background load hits them alike; the speed ratio
to hilt is taken per round.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import math
import platform
import statistics
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np
import torch

from hilt.sims.physics import THZ_0P4, MZIMesh, MZINetwork, Propagator
from hilt.sims.physics.diffraction import DiffractiveStack, PhaseMask


def times(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


@dataclass
class Rate:
    """Items per second over repeated timings (median, min, max)."""

    rates: list[float]

    @classmethod
    def of(cls, items: int, seconds: list[float]) -> Rate:
        return cls([items / t for t in seconds])

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def __format__(self, spec: str) -> str:
        spec = spec or ".1f"
        return (f"{self.median:{spec}} [{min(self.rates):{spec}}-{max(self.rates):{spec}}]"
                f" (n={len(self.rates)})")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / math.sqrt((a @ a) * (b @ b)))


# -- the common problem -------------------------------------------------------------------


@dataclass
class Problem:
    """Everything the simulators share: geometry, input fields, masks."""

    n: int
    layers: int
    batch: int
    pitch: float
    wavelength: float
    spacing: float
    fields: torch.Tensor  # (batch, n, n) complex64, random phase, unit amplitude
    phases: list[torch.Tensor]  # layers x (n, n) float32, the masks' phase delays
    stack: DiffractiveStack  # hilt, padding "auto"
    window: int = 0  # the others' window: 2n (n/2 zeros on each side)
    _np_cache: dict[str, object] = dc_field(default_factory=dict)

    @property
    def lo(self) -> int:  # aperture offset inside the others' centred window
        return (self.window - self.n) // 2

    def embed(self, a: np.ndarray) -> np.ndarray:
        """(..., n, n) -> (..., window, window), aperture in the centre, zeros around."""
        out = np.zeros((*a.shape[:-2], self.window, self.window), dtype=a.dtype)
        out[..., self.lo:self.lo + self.n, self.lo:self.lo + self.n] = a
        return out

    def crop(self, a: np.ndarray) -> np.ndarray:
        return a[..., self.lo:self.lo + self.n, self.lo:self.lo + self.n]

    def transmissions(self, padded: bool, dtype: type = np.complex64) -> list[np.ndarray]:
        """exp(i phase) per layer on the aperture (or embedded in the window: 0 = blocked)."""
        key = f"{padded}-{np.dtype(dtype).name}"
        if key not in self._np_cache:
            ts = [np.exp(1j * p.numpy().astype(np.float64)).astype(dtype) for p in self.phases]
            self._np_cache[key] = [self.embed(t) for t in ts] if padded else ts
        return self._np_cache[key]  # type: ignore[return-value]


def make_problem(batch: int = 64, n: int = 200, layers: int = 5) -> Problem:
    s = THZ_0P4
    stack = s.build(n_layers=layers, kind="phase", shape=(n, n), seed=0)
    g = torch.Generator().manual_seed(1)
    fields = torch.polar(torch.ones(batch, n, n),
                         2 * math.pi * torch.rand(batch, n, n, generator=g))
    phases = [m.phase.detach().clone() for m in stack.masks]  # type: ignore[union-attr]
    return Problem(n, layers, batch, s.pitch, s.wavelength, s.spacing, fields, phases, stack,
                   window=2 * n)


def hilt_reference(p: Problem, fields: torch.Tensor, layers: int, padding: str | int = "auto"
                   ) -> np.ndarray:
    """Output intensity of hilt for the first ``layers`` masks (0 = one plain propagation)."""
    if layers == 0:
        prop = Propagator((p.n, p.n), p.pitch, p.wavelength, p.spacing, padding=padding)
        with torch.no_grad():
            return prop(fields).abs().square().numpy()
    masks = [PhaseMask((p.n, p.n)) for _ in range(layers)]
    with torch.no_grad():
        for m, ph in zip(masks, p.phases, strict=False):
            m.phase.copy_(ph)
        stack = DiffractiveStack(masks, [p.spacing] * (layers + 1), p.pitch, p.wavelength,
                                 padding=padding)
        return stack(fields).numpy()


def smooth_fields(n: int) -> torch.Tensor:
    """(1, n, n): flat-phase light through an off-centre L-shaped opening (asymmetric, so that a
    shift, flip or transpose in a tool's conventions shows up), mostly low angles."""
    u = torch.zeros(1, n, n, dtype=torch.complex64)
    u[0, n // 5: n // 2, n // 2: 5 * n // 6] = 1.0
    u[0, n // 2: 3 * n // 4, n // 2: 3 * n // 5] = 1.0
    return u


def converged_reference(p: Problem, fields: torch.Tensor, layers: int, factor: int = 8
                        ) -> np.ndarray:
    """Independent check of the physics: exact ASM transfer function (evanescent waves decay,
    no band limit) on a ``factor`` x larger window in complex128, aperture blocking at every
    layer. Wrap-around from the window edge is ``factor`` times further away than on a 2x grid."""
    w = factor * p.n
    f = torch.fft.fftfreq(w, d=p.pitch, dtype=torch.float64)
    arg = 1.0 / p.wavelength**2 - f[:, None] ** 2 - f[None, :] ** 2
    kz = torch.sqrt(arg.to(torch.complex128))  # imaginary for evanescent waves: decay
    h = torch.exp(2j * math.pi * p.spacing * kz)
    u = fields.to(torch.complex128)
    for i in range(layers + 1):
        u = torch.fft.ifft2(torch.fft.fft2(u, s=(w, w)) * h)[..., :p.n, :p.n]
        if i < layers:
            u = u * torch.exp(1j * p.phases[i].to(torch.float64))
    return u.abs().square().numpy()


# -- hilt vs bare torch.fft -----------------------------------------------------------------


@dataclass
class Contender:
    """One timed call of ``fn`` propagates ``fields`` fields through the whole stack."""

    name: str
    fn: Callable[[], object]
    fields: int


def race(contenders: list[Contender], rounds: int = 5
         ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and CPU seconds (all threads of this process) per call of every contender,
    timed round-robin (one call each per round, the order rotated every round) after one untimed
    warm-up call each, so that the background load of a shared machine is spread over all of
    them alike. CPU time is much less sensitive to that load than wall time (but counts threads
    that spin while waiting)."""
    wall: dict[str, list[float]] = {c.name: [] for c in contenders}
    cpu: dict[str, list[float]] = {c.name: [] for c in contenders}
    with torch.no_grad():
        for c in contenders:
            c.fn()
        for r in range(rounds):
            k = r % len(contenders)
            for c in contenders[k:] + contenders[:k]:
                c0, t0 = time.process_time(), time.perf_counter()
                c.fn()
                wall[c.name].append(time.perf_counter() - t0)
                cpu[c.name].append(time.process_time() - c0)
    return wall, cpu


def bench_diffraction(p: Problem) -> dict[str, object]:
    stack, field, n, layers = p.stack, p.fields, p.n, p.layers
    h = stack.propagators[0].h
    wy, wx = h.shape
    phases = p.phases

    def bare() -> torch.Tensor:
        # The same math written plainly: zero-pad, fft2, multiply, ifft2, crop, modulate.
        u = field
        for i in range(layers + 1):
            u = torch.fft.ifft2(torch.fft.fft2(u, s=(wy, wx)) * h)[..., :n, :n]
            if i < layers:
                u = u * torch.exp(1j * phases[i])
        return u.abs().square()

    def ours() -> torch.Tensor:
        return stack(field)

    def single() -> None:  # one field per call, like the tools that cannot batch
        for i in range(4):
            stack(field[i:i + 1])

    res: dict[str, object] = {"padded": int(wy)}
    with torch.no_grad():
        out_a, out_b = ours(), bare()
        res["max_rel_diff"] = float((out_a - out_b).abs().max() / out_b.abs().max())
    res["contenders"] = [
        Contender("hilt", ours, p.batch),
        Contender("bare torch.fft (same grid, same H)", bare, p.batch),
        Contender("hilt, one field per call", single, 4),
    ]

    # Training step (forward + backward through all layers), fields/s.
    def train_step() -> None:
        stack.zero_grad()
        stack(field[:16]).mean().backward()

    res["train"] = Rate.of(16, times(train_step, repeat=3))
    t0 = time.perf_counter()
    Propagator((n, n), p.pitch, p.wavelength, 0.0301)  # uncached geometry
    res["setup_s"] = time.perf_counter() - t0
    return res


# -- other simulators ------------------------------------------------------------------------


@dataclass
class Tool:
    """An adapter: ``run(fields, layers)`` -> output intensity (k, n, n) numpy for the first
    ``layers`` masks (0 = one plain propagation), fields (k, n, n) complex64 torch."""

    name: str
    how: str  # method, precision, batching, deviations from the common problem
    run: Callable[[torch.Tensor, int], np.ndarray]
    batched: bool  # takes the whole batch in one call (else one field at a time)
    timed_fields: int | None = None  # fields per timed call (default: batch, or 8 if unbatched)


@contextlib.contextmanager
def torchvision_stand_in() -> Iterator[bool]:
    """waveprop imports ``torchvision.transforms.functional.crop`` (and ``resize``) at module
    level but only uses ``crop``, as plain slicing, on this path. If torchvision is absent (it is
    not a hilt dependency; its wheels pin a torch build), provide that slice for the import only
    and remove the stand-in afterwards. Yields whether the stand-in was used."""
    try:
        importlib.import_module("torchvision.transforms.functional")
        yield False
        return
    except Exception:
        pass
    names = ["torchvision", "torchvision.transforms", "torchvision.transforms.functional"]
    mods = {name: types.ModuleType(name) for name in names}

    def crop(img: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
        if top < 0 or left < 0 or top + height > img.shape[-2] or left + width > img.shape[-1]:
            raise NotImplementedError("torchvision stand-in: crop with padding")
        return img[..., top:top + height, left:left + width]

    def resize(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("torchvision stand-in: resize")

    fn = mods["torchvision.transforms.functional"]
    fn.crop, fn.resize = crop, resize  # type: ignore[attr-defined]
    mods["torchvision"].transforms = mods["torchvision.transforms"]  # type: ignore[attr-defined]
    mods["torchvision.transforms"].functional = fn  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in names}
    sys.modules.update(mods)
    try:
        yield True
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def lightpipes_tool(p: Problem) -> Tool:
    lp = importlib.import_module("LightPipes")
    size = p.window * p.pitch

    def run(fields: torch.Tensor, layers: int) -> np.ndarray:
        ts = p.transmissions(padded=True, dtype=np.complex128)
        out = []
        for u in p.embed(fields.numpy().astype(np.complex128)):
            f = lp.Begin(size, p.wavelength, p.window)
            f.field = u
            for i in range(layers + 1):
                f = lp.Forvard(f, p.spacing)
                if i < layers:
                    f.field = f.field * ts[i]  # = MultPhase + a 200x200 aperture
            out.append(np.abs(p.crop(f.field)) ** 2)
        return np.stack(out)

    return Tool(f"LightPipes {version('LightPipes')}",
                "Forvard (Fresnel-approximation transfer function, no band limit), "
                "numpy complex128, 1 field at a time", run, batched=False)


def _diffractsim_tool(p: Problem, backend: str) -> Tool:
    ds = importlib.import_module("diffractsim")
    backend_functions = importlib.import_module("diffractsim.util.backend_functions")
    if backend == "JAX" and not backend_functions.JAX_AVAILABLE:
        raise ImportError("JAX backend: jax is not installed")
    extent = p.window * p.pitch
    dtype = np.complex128 if backend == "CPU" else np.complex64  # jax default: 32-bit

    def run(fields: torch.Tensor, layers: int) -> np.ndarray:
        ts: list[object] = []
        try:
            out = []
            for u in p.embed(fields.numpy().astype(dtype)):
                # Built on the numpy backend: with jax 0.10 the constructor's colour tables fail
                # (jnp.vstack of lists); propagation itself runs on the chosen backend.
                ds.set_backend("CPU")  # a global switch in diffractsim
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    f = ds.MonochromaticField(wavelength=p.wavelength, extent_x=extent,
                                              extent_y=extent, Nx=p.window, Ny=p.window)
                ds.set_backend(backend)
                bd = backend_functions.backend
                if not ts:
                    ts.extend(bd.asarray(t) for t in p.transmissions(padded=True, dtype=dtype))
                f.E = bd.asarray(u)
                for i in range(layers + 1):
                    f.propagate(p.spacing)
                    if i < layers:
                        f.E = f.E * ts[i]  # a DOE with this transmittance, 200x200 aperture
                out.append(np.abs(p.crop(np.asarray(f.E))) ** 2)
            return np.stack(out)
        finally:
            ds.set_backend("CPU")

    what = ("numpy backend (complex128)" if backend == "CPU" else
            f"JAX backend (jax {version('jax')}, eager, complex64)")
    return Tool(f"diffractsim {version('diffractsim')}" + ("" if backend == "CPU" else " JAX"),
                "MonochromaticField.propagate (ASM, no band limit, transfer function rebuilt "
                f"every call), {what}, 1 field at a time", run, batched=False)


def diffractsim_tool(p: Problem) -> Tool:
    return _diffractsim_tool(p, "CPU")


def diffractsim_jax_tool(p: Problem) -> Tool:
    return _diffractsim_tool(p, "JAX")


def torchoptics_tool(p: Problem, default_pad: bool = False) -> Tool:
    to = importlib.import_module("torchoptics")
    to.set_default_dtype(torch.float32)  # its default is float64; hilt runs complex64
    pad = None if default_pad else ((p.window - p.n) // 2, (p.window - p.n) // 2)
    systems: dict[int, object] = {}

    def system(layers: int) -> object:
        if layers not in systems:
            systems[layers] = to.System(*[
                to.elements.PhaseModulator(p.phases[i].clone(), z=(i + 1) * p.spacing,
                                           spacing=p.pitch) for i in range(layers)])
        return systems[layers]

    def run(fields: torch.Tensor, layers: int) -> np.ndarray:
        f = to.Field(fields, wavelength=p.wavelength, z=0.0, spacing=p.pitch)
        with torch.no_grad():
            out = system(layers).measure_at_z(  # type: ignore[attr-defined]
                f, (layers + 1) * p.spacing, propagation_method="ASM", asm_pad=pad)
            return out.intensity().numpy()

    how = ("System of PhaseModulators, measure_at_z, ASM (no band limit, transfer function "
           "rebuilt every propagation), float32/complex64, batched, ")
    if default_pad:
        return Tool(f"torchoptics {version('torchoptics')}, default padding", how
                    + f"default asm_pad (2n per side: {5 * p.n}^2 window)", run, batched=True,
                    timed_fields=8)
    return Tool(f"torchoptics {version('torchoptics')}", how + f"asm_pad={pad[0]} "
                f"({p.window}^2 window; its default is 2n per side)", run, batched=True)


def torchoptics_default_tool(p: Problem) -> Tool:
    return torchoptics_tool(p, default_pad=True)


def waveprop_tool(p: Problem) -> Tool:
    with torchvision_stand_in() as stand_in:
        rs = importlib.import_module("waveprop.rs")
    u0 = p.fields[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = rs.angular_spectrum(u0, p.wavelength, p.pitch, p.spacing, bandlimit=True,
                                return_H=True, device="cpu")

    def run(fields: torch.Tensor, layers: int) -> np.ndarray:
        ts = [torch.exp(1j * ph) for ph in p.phases]
        out = []
        with torch.no_grad():
            for u in fields:
                for i in range(layers + 1):
                    u = rs.angular_spectrum(u, p.wavelength, p.pitch, p.spacing, H=h,
                                            device="cpu")[0]
                    if i < layers:
                        u = u * ts[i]
                out.append(u.abs().square().numpy())
        return np.stack(out)

    note = (" (torchvision absent: its crop was replaced by the equivalent slice for the import)"
            if stand_in else "")
    return Tool(f"waveprop {version('waveprop')}",
                "rs.angular_spectrum (band-limited ASM, Matsushima 2009, on its 2x zero-padded "
                "grid), torch complex64, transfer function precomputed (return_H) and reused, "
                "1 field at a time (2D input only)" + note, run, batched=False)


TOOLS: list[tuple[str, Callable[[Problem], Tool]]] = [
    ("LightPipes", lightpipes_tool),
    ("diffractsim", diffractsim_tool),
    ("diffractsim JAX", diffractsim_jax_tool),
    ("torchoptics", torchoptics_tool),
    ("torchoptics, default padding", torchoptics_default_tool),
    ("waveprop", waveprop_tool),
]


CHECKS = ("smooth", "plain", "stack")  # (input, layers) pairs below


def bench_others(p: Problem, check_fields: int = 2, single_fields: int = 8
                 ) -> list[dict[str, object]]:
    """Correlation with hilt (and with a converged 8x reference) for every other simulator that
    imports, and a contender to time it."""
    speckle = p.fields[:check_fields]
    inputs = {"smooth": (smooth_fields(p.n), 0), "plain": (speckle, 0),
              "stack": (speckle, p.layers)}
    hilt_out = {c: hilt_reference(p, u, k) for c, (u, k) in inputs.items()}
    conv = {c: converged_reference(p, u, k) for c, (u, k) in inputs.items()}

    def corr(out: dict[str, np.ndarray]) -> dict[str, float]:
        res = {f"hilt_{c}": pearson(out[c], hilt_out[c]) for c in CHECKS}
        res.update({f"conv_{c}": pearson(out[c], conv[c]) for c in CHECKS})
        return res

    results: list[dict[str, object]] = [
        {"name": "hilt (padding auto -> 400^2), reference", **corr(hilt_out)},
        {"name": "hilt textbook 2x BL-ASM (padding=400), reference only",
         **corr({c: hilt_reference(p, u, k, padding=p.window) for c, (u, k) in inputs.items()})},
    ]
    for label, make in TOOLS:
        try:
            tool = make(p)
        except Exception as e:  # not installed, or a dependency missing: skip with the reason
            results.append({"name": label, "skipped": f"{type(e).__name__}: {e}"})
            continue
        try:
            r: dict[str, object] = {"name": tool.name, "how": tool.how,
                                    **corr({c: tool.run(u, k) for c, (u, k) in inputs.items()})}
            n_fields = tool.timed_fields or (p.batch if tool.batched else single_fields)
            sub = p.fields[:n_fields]
            r["contender"] = Contender(tool.name, functools.partial(tool.run, sub, p.layers),
                                       n_fields)
        except Exception as e:
            r = {"name": tool.name, "skipped": f"failed: {type(e).__name__}: {e}"}
        results.append(r)
    return results


# -- MZI ------------------------------------------------------------------------------------


def bench_mzi(n: int = 64, batch: int = 256) -> dict[str, Rate]:
    mesh = MZIMesh(n, seed=0)
    x = torch.randn(batch, n, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    res = {}
    with torch.no_grad():
        mesh.transfer_matrix()
        res["cached_matrix_samples_s"] = Rate.of(batch, times(lambda: mesh(x), repeat=20))
        mesh.theta.add_(0.0)  # bump the version: rebuild the matrix every batch

        def rebuild() -> torch.Tensor:
            mesh.theta.add_(0.0)
            return mesh(x)
        res["rebuild_matrix_samples_s"] = Rate.of(batch, times(rebuild, repeat=10))
        res["columns_samples_s"] = Rate.of(batch, times(lambda: mesh(x, method="columns"),
                                                        repeat=5))

    def grad_step() -> None:
        mesh.zero_grad()
        mesh(x).abs().square().sum().backward()

    res["train_samples_s"] = Rate.of(batch, times(grad_step, repeat=5))
    net = MZINetwork.build(n, n_meshes=3, seed=0)
    chip = net.with_errors("dat-0.10", seed=1)
    with torch.no_grad():
        chip(x)
        res["chip_3mesh_samples_s"] = Rate.of(batch, times(lambda: chip(x), repeat=10))
    return res


def main() -> None:
    t_start = time.perf_counter()
    torch.manual_seed(0)
    print(f"# python {sys.version.split()[0]}, torch {torch.__version__}, numpy "
          f"{np.__version__}, {torch.get_num_threads()} torch threads, CPU: {cpu_model()}, "
          f"load average at start {load_average()}")
    print("# rates: median [min-max] (n=repeats)")
    p = make_problem()
    d = bench_diffraction(p)
    others = bench_others(p)
    contenders: list[Contender] = d["contenders"]  # type: ignore[assignment]
    contenders += [r["contender"] for r in others if "contender" in r]  # type: ignore[misc]
    t, cpu = race(contenders)
    rates = {c.name: Rate.of(c.fields, t[c.name]) for c in contenders}
    cpu_rates = {c.name: Rate.of(c.fields, cpu[c.name]) for c in contenders}
    t_hilt = [s / p.batch for s in t["hilt"]]  # seconds per field, per round

    def vs_hilt(c: Contender) -> Rate:  # per-round speed ratio hilt / c
        return Rate([(s / c.fields) / h for s, h in zip(t[c.name], t_hilt, strict=True)])

    print(f"diffraction {p.batch} x {p.n}x{p.n}, {p.layers} layers (hilt pads to "
          f"{d['padded']}^2); max rel diff hilt vs bare torch.fft {d['max_rel_diff']:.1e}")
    print(f"diffraction training (fwd+bwd, batch 16) {d['train']} fields/s; "
          f"transfer-function setup for a new geometry {d['setup_s']:.2f} s")
    print(f"correctness, same problem ({p.window}^2 window for the others, aperture blocking at "
          f"every layer): Pearson correlation of the output intensity with hilt / with an "
          f"independent converged reference (exact ASM, 8x window, complex128); smooth: one "
          f"{p.spacing * 100:.0f} cm propagation of an L-shaped opening; plain: one propagation "
          f"of 2 random-phase fields; stack: those through all {p.layers} layers")
    for r in others:
        if "skipped" in r:
            print(f"  {r['name']}: skipped ({r['skipped']})")
            continue
        print(f"  {r['name']}: vs hilt " + "/".join(f"{r['hilt_' + c]:.4f}" for c in CHECKS)
              + ", vs 8x " + "/".join(f"{r['conv_' + c]:.4f}" for c in CHECKS)
              + " (smooth/plain/stack)")
        if "how" in r:
            print(f"      {r['how']}")
    print("throughput, 5 layers, timed round-robin (5 rounds): fields/s median [min-max]; "
          "hilt/x = per-round speed ratio of hilt (batch 64) to x")
    for c in contenders:
        line = f"  {c.name}: {rates[c.name]} fields/s ({c.fields} fields per call)"
        if c.name != "hilt":
            line += f", hilt/x {vs_hilt(c):.2f}"
        print(line + f"; {cpu_rates[c.name]} fields per CPU-second")
    m = bench_mzi()
    print("MZI N=64 Clements, batch 256 (samples/s):")
    for k, v in m.items():
        print(f"  {k} {v:,.0f}")
    print(f"# total {time.perf_counter() - t_start:.0f} s, load average at end {load_average()}")


if __name__ == "__main__":
    main()
