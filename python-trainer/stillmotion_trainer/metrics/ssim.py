"""SSIM of two images — evaluation metric (mirrored by metrics/ssim.ts).

The formula lives once, in losses.similarity.ssim_per_sample; here it is called in float64 and
NOT clamped, so the reported value is the usual SSIM in [-1, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from stillmotion_trainer.losses.similarity import ssim_per_sample
from stillmotion_trainer.metrics._input import as_unit_array, check_same_shape


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (11-tap Gaussian σ 1.5, C1 = 0.01², C2 = 0.03²) over channels and pixels.

    a, b: (H, W) or (C, H, W), values in [0, 1].
    """
    x = as_unit_array("a", a, (2, 3), "(H, W) or (C, H, W)")
    y = as_unit_array("b", b, (2, 3), "(H, W) or (C, H, W)")
    check_same_shape("a", x, "b", y)
    if x.ndim == 2:
        x, y = x[None], y[None]
    return float(ssim_per_sample(torch.from_numpy(x[None]), torch.from_numpy(y[None]))[0])
