"""Nested Python state (state dicts, optimiser state, RNG states, calibration tables) <-> HDF5.

Pickle would be shorter, but a run file must stay readable with plain h5py and no hilt, and
must not execute code when opened. So each container is a group and each leaf a dataset, with a
``__type__`` attribute saying how to rebuild it exactly (tuples stay tuples, int keys stay int,
torch tensors come back as torch tensors of their dtype).

Containers: ``dict`` (keys str or int; attr ``__keys__`` holds them as JSON, in order),
``list``/``tuple`` (children ``0``, ``1``, ...; an all-int or all-float sequence is one dataset).
Leaves: ``numpy``, ``torch`` (attr ``torch_dtype``), ``npscalar``, ``none``, ``bool``, ``int``,
``bigint`` (ints beyond 64 bits, e.g. PCG64 state, as decimal text), ``float``, ``str``,
``bytes``.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import h5py
import numpy as np

from hilt.runfile._errors import RunFileError

_SAFE_NAME = re.compile(r"^[^/.\x00][^/\x00]*$")
_I64 = (-(2**63), 2**63 - 1)


def _child_name(i: int, key: object) -> str:
    # Keep a str key as the HDF5 name when it can be one, so plain h5py users see "fc1.weight".
    if isinstance(key, str) and _SAFE_NAME.match(key) and not key.startswith("__"):
        return key
    return f"__{i}"


def _is_torch(obj: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def save_tree(parent: h5py.Group, name: str, obj: Any) -> None:
    """Write ``obj`` as ``parent[name]`` (group or dataset)."""
    if isinstance(obj, dict):
        g = parent.create_group(name)
        keys = list(obj.keys())
        for k in keys:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise RunFileError(f"cannot store dict key {k!r} ({type(k).__name__}); use str or int")
        g.attrs["__type__"] = "dict"
        g.attrs["__keys__"] = json.dumps(keys)
        for i, k in enumerate(keys):
            save_tree(g, _child_name(i, k), obj[k])
        return
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        if obj and all(type(v) is int for v in obj) and _I64[0] <= min(obj) and max(obj) <= _I64[1]:
            d = parent.create_dataset(name, data=np.asarray(obj, dtype=np.int64))
            d.attrs["__type__"] = kind
            return
        if obj and all(type(v) is float for v in obj):
            d = parent.create_dataset(name, data=np.asarray(obj, dtype=np.float64))
            d.attrs["__type__"] = kind
            return
        g = parent.create_group(name)
        g.attrs["__type__"] = kind
        g.attrs["__len__"] = len(obj)
        for i, v in enumerate(obj):
            save_tree(g, str(i), v)
        return
    if _is_torch(obj):
        t = obj.detach().cpu()
        dtype = str(t.dtype).removeprefix("torch.")
        try:
            arr = t.numpy()
        except TypeError:  # bfloat16 and friends have no numpy dtype; float32 holds them exactly
            arr = t.float().numpy()
        d = parent.create_dataset(name, data=arr)
        d.attrs["__type__"] = "torch"
        d.attrs["torch_dtype"] = dtype
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise RunFileError(f"cannot store object array at {parent.name}/{name}")
        d = parent.create_dataset(name, data=obj)
        d.attrs["__type__"] = "numpy"
        return
    if isinstance(obj, np.generic):
        d = parent.create_dataset(name, data=obj)
        d.attrs["__type__"] = "npscalar"
        return
    if obj is None:
        d = parent.create_dataset(name, data=h5py.Empty("i1"))
        d.attrs["__type__"] = "none"
        return
    if isinstance(obj, bool):
        d = parent.create_dataset(name, data=np.bool_(obj))
        d.attrs["__type__"] = "bool"
        return
    if isinstance(obj, int):
        if _I64[0] <= obj <= _I64[1]:
            d = parent.create_dataset(name, data=np.int64(obj))
            d.attrs["__type__"] = "int"
        else:
            d = parent.create_dataset(name, data=str(obj))
            d.attrs["__type__"] = "bigint"
        return
    if isinstance(obj, float):
        d = parent.create_dataset(name, data=np.float64(obj))
        d.attrs["__type__"] = "float"
        return
    if isinstance(obj, str):
        d = parent.create_dataset(name, data=obj, dtype=h5py.string_dtype())
        d.attrs["__type__"] = "str"
        return
    if isinstance(obj, (bytes, bytearray)):
        d = parent.create_dataset(name, data=np.frombuffer(bytes(obj), dtype=np.uint8))
        d.attrs["__type__"] = "bytes"
        return
    raise RunFileError(
        f"cannot store {type(obj).__name__} at {parent.name}/{name}: use dicts, lists, tuples, "
        "numbers, strings, numpy arrays or torch tensors"
    )


def _attr_str(node: h5py.HLObject, key: str) -> str:
    v = node.attrs.get(key, "")
    return v.decode() if isinstance(v, bytes) else str(v)


def load_tree(node: h5py.Group | h5py.Dataset) -> Any:
    """Rebuild what :func:`save_tree` wrote (torch is imported only if a tensor is stored)."""
    kind = _attr_str(node, "__type__")
    if isinstance(node, h5py.Group):
        if kind == "dict":
            keys = json.loads(_attr_str(node, "__keys__"))
            return {k: load_tree(node[_child_name(i, k)]) for i, k in enumerate(keys)}
        if kind in ("list", "tuple"):
            items = [load_tree(node[str(i)]) for i in range(int(node.attrs["__len__"]))]
            return tuple(items) if kind == "tuple" else items
        # A group written by something else: read it as a plain dict.
        return {k: load_tree(v) for k, v in node.items()}
    if kind in ("list", "tuple"):
        items = node[()].tolist()
        return tuple(items) if kind == "tuple" else items
    if kind == "torch":
        import torch

        t = torch.from_numpy(np.array(node[()]))
        return t.to(getattr(torch, _attr_str(node, "torch_dtype")))
    if kind == "npscalar":
        return node[()]
    if kind == "none":
        return None
    if kind == "bool":
        return bool(node[()])
    if kind == "int":
        return int(node[()])
    if kind == "bigint":
        return int(node.asstr()[()])
    if kind == "float":
        return float(node[()])
    if kind == "str":
        return node.asstr()[()]
    if kind == "bytes":
        return node[()].tobytes()
    return node[()]  # "numpy", or a dataset written by something else
