"""Checks for metric inputs (numpy arrays); the same `name: problem` errors as the losses."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from stillmotion_trainer.losses.validation import LossInputError


def as_unit_array(name: str, x: object, ndims: Sequence[int], layout: str) -> np.ndarray:
    """`x` as float64: a non-empty numpy array with one of `ndims` dims, finite, in [0, 1]."""
    if not isinstance(x, np.ndarray):
        raise LossInputError(name, f"expected a numpy array {layout}, got {type(x).__name__}")
    if x.ndim not in ndims:
        raise LossInputError(name, f"expected shape {layout}, got {x.shape}")
    if x.dtype != np.bool_ and not np.issubdtype(x.dtype, np.number):
        raise LossInputError(name, f"expected a numeric or bool array, got dtype {x.dtype}")
    if x.size == 0:
        raise LossInputError(name, f"is empty (shape {x.shape})")
    out = x.astype(np.float64)
    if np.isnan(out).any():
        raise LossInputError(name, "contains NaN")
    if out.min() < 0 or out.max() > 1:
        raise LossInputError(
            name, f"values must lie in [0, 1], got min {out.min():.6g} max {out.max():.6g}"
        )
    return out


def check_same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise LossInputError(name_b, f"shape {b.shape} does not match {name_a} shape {a.shape}")


def as_mask_pair(pred: object, target: object) -> tuple[np.ndarray, np.ndarray]:
    """Two same-shape masks, binarised: a pixel is foreground where its value >= 0.5."""
    p = as_unit_array("pred", pred, (2, 3), "(H, W) or (1, H, W)")
    t = as_unit_array("target", target, (2, 3), "(H, W) or (1, H, W)")
    check_same_shape("pred", p, "target", t)
    return p >= 0.5, t >= 0.5
