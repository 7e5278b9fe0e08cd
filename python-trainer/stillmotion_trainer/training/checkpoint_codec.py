"""Checkpoint payload codec: any state the trainer saves <-> (JSON text, list of tensors).

`torch.load(..., weights_only=True)` is the only way this project reads a checkpoint, and torch
1.13's weights-only unpickler accepts tensors, dicts, lists, tuples, ints, strings and None but
not floats, numpy arrays or sets. So a checkpoint file holds exactly two things besides its
format tag: a flat list of tensors and one JSON string for everything else, in which

    a tensor              is {"$tensor": i}            (index into the tensor list)
    a tuple               is {"$tuple": [...]}
    a numpy array         is {"$ndarray": [...], "dtype": "uint32"}
    a dict whose keys are not all plain strings (optimizer state uses ints), or a key starting
    with "$"            is {"$items": [[key, value], ...]}

Floats, inf and NaN go through Python's json exactly (repr round-trips every float), so a
resumed run continues bit for bit. Decoding rebuilds nothing but these types: a file cannot
make the loader construct anything else.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

TENSOR, TUPLE, NDARRAY, ITEMS = "$tensor", "$tuple", "$ndarray", "$items"
# numpy dtypes a checkpoint may carry (numpy's RNG state is uint32)
NDARRAY_DTYPES = ("uint32", "int64", "float64", "float32")


class CodecError(ValueError):
    """A value that cannot be stored, or an encoded tree that is not one this codec wrote.
    `where` is the dotted path of the value inside the checkpoint ("training.rng.numpy")."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or '<root>'}: {problem}")
        self.where = where


def encode(value: Any) -> tuple[str, list[torch.Tensor]]:
    """(JSON text, tensors) for `value`; raises CodecError naming any unstorable value."""
    tensors: list[torch.Tensor] = []
    tree = _encode(value, tensors, "")
    return json.dumps(tree, allow_nan=True), tensors


def decode(text: str, tensors: list[torch.Tensor]) -> Any:
    """The value `encode` was given, rebuilt from its JSON text and tensor list."""
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as e:
        raise CodecError("", f"state is not valid JSON ({e})") from e
    return _decode(tree, tensors, "")


def _join(where: str, key: Any) -> str:
    return f"{where}.{key}" if where else str(key)


def _encode(value: Any, tensors: list[torch.Tensor], where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        tensors.append(value.detach())
        return {TENSOR: len(tensors) - 1}
    if isinstance(value, np.ndarray):
        if value.dtype.name not in NDARRAY_DTYPES:
            raise CodecError(where, f"numpy dtype {value.dtype} is not storable")
        return {NDARRAY: value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return {TUPLE: [_encode(v, tensors, _join(where, i)) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, tensors, _join(where, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        plain = all(isinstance(k, str) and not k.startswith("$") for k in value)
        if plain:
            return {k: _encode(v, tensors, _join(where, k)) for k, v in value.items()}
        return {
            ITEMS: [
                [_encode(k, tensors, _join(where, k)), _encode(v, tensors, _join(where, k))]
                for k, v in value.items()
            ]
        }
    raise CodecError(where, f"a {type(value).__name__} cannot be stored in a checkpoint")


def _decode(node: Any, tensors: list[torch.Tensor], where: str) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, tensors, _join(where, i)) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        raise CodecError(where, f"unexpected {type(node).__name__} in the state")
    if TENSOR in node:
        index = node[TENSOR]
        if len(node) != 1 or not isinstance(index, int) or not 0 <= index < len(tensors):
            raise CodecError(where, f"bad tensor reference {node!r} ({len(tensors)} tensors)")
        return tensors[index]
    if TUPLE in node:
        items = node[TUPLE]
        if len(node) != 1 or not isinstance(items, list):
            raise CodecError(where, "bad tuple")
        return tuple(_decode(v, tensors, _join(where, i)) for i, v in enumerate(items))
    if NDARRAY in node:
        dtype = node.get("dtype")
        if set(node) != {NDARRAY, "dtype"} or dtype not in NDARRAY_DTYPES:
            raise CodecError(where, f"bad numpy array (dtype {dtype!r})")
        try:
            return np.asarray(node[NDARRAY], dtype=dtype)
        except (TypeError, ValueError, OverflowError) as e:
            raise CodecError(where, f"bad numpy array ({e})") from e
    if ITEMS in node:
        pairs = node[ITEMS]
        if len(node) != 1 or not isinstance(pairs, list):
            raise CodecError(where, "bad item list")
        out = {}
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError(where, "bad item (expected [key, value])")
            key = _decode(pair[0], tensors, where)
            if not isinstance(key, (str, int, float, bool, tuple)) and key is not None:
                raise CodecError(where, f"unhashable key {key!r}")
            out[key] = _decode(pair[1], tensors, _join(where, key))
        return out
    if any(k.startswith("$") for k in node):
        raise CodecError(where, f"unknown marker in {sorted(node)}")
    return {k: _decode(v, tensors, _join(where, k)) for k, v in node.items()}
