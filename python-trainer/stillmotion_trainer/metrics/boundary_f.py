"""Boundary F-score of two masks with a pixel tolerance — evaluation metric (metrics/boundary-f.ts).

Region overlap (Dice, IoU) barely moves when a contour is off by a pixel or two on a large lesion;
the boundary F-score (as in the DAVIS benchmark) measures contour accuracy directly.
"""

from __future__ import annotations

import math

import numpy as np

from stillmotion_trainer.losses.validation import LossInputError
from stillmotion_trainer.metrics._input import as_mask_pair


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Foreground pixels with a 4-neighbour that is background; outside the image is ignored,
    so a full mask has no boundary.  (H, W) bool -> (H, W) bool"""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _dilate_disk(points: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within Euclidean distance <= radius of a True pixel.  (H, W) bool -> (H, W) bool"""
    h, w = points.shape
    out = points.copy()
    r = int(math.floor(radius))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if (dy == 0 and dx == 0) or dy * dy + dx * dx > radius * radius:
                continue
            if abs(dy) >= h or abs(dx) >= w:  # shifted entirely off the image
                continue
            # out[y + dy, x + dx] |= points[y, x], clipped to the image
            ys, yd = slice(max(0, -dy), min(h, h - dy)), slice(max(0, dy), min(h, h + dy))
            xs, xd = slice(max(0, -dx), min(w, w - dx)), slice(max(0, dx), min(w, w + dx))
            out[yd, xd] |= points[ys, xs]
    return out


def boundary_f(pred: np.ndarray, target: np.ndarray, tolerance: float = 2.0) -> float:
    """F = 2 P R / (P + R) of the two mask boundaries, where P (R) is the share of predicted
    (target) boundary pixels within `tolerance` pixels (Euclidean) of the other boundary.

    Masks binarised at >= 0.5. Both boundaries empty -> 1; exactly one empty -> 0.
    pred, target: (H, W) or (1, H, W), values in [0, 1].
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)):
        raise LossInputError("tolerance", f"expected a number >= 0, got {type(tolerance).__name__}")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise LossInputError("tolerance", f"expected a finite number >= 0, got {tolerance!r}")
    p, t = as_mask_pair(pred, target)
    bp = mask_boundary(p.reshape(p.shape[-2:]))
    bt = mask_boundary(t.reshape(t.shape[-2:]))
    n_p, n_t = int(bp.sum()), int(bt.sum())
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    precision = int((bp & _dilate_disk(bt, tolerance)).sum()) / n_p
    recall = int((bt & _dilate_disk(bp, tolerance)).sum()) / n_t
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)
