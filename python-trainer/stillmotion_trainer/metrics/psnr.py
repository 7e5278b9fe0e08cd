"""PSNR of two images with data range 1 — evaluation metric (mirrored by metrics/psnr.ts)."""

from __future__ import annotations

import math

import numpy as np

from stillmotion_trainer.metrics._input import as_unit_array, check_same_shape

# Identical images have infinite PSNR; a finite cap keeps means and JSON well defined.
PSNR_CAP_DB = 100.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR = min(10 log10(1 / MSE), 100) dB, MSE over every element; MSE = 0 gives 100.

    a, b: (H, W) or (C, H, W), values in [0, 1].
    """
    x = as_unit_array("a", a, (2, 3), "(H, W) or (C, H, W)")
    y = as_unit_array("b", b, (2, 3), "(H, W) or (C, H, W)")
    check_same_shape("a", x, "b", y)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, -10.0 * math.log10(mse))
