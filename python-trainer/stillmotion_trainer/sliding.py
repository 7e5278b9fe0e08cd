"""Sliding sums along one axis, written as shifted slices: the cost volume's window mean
(models/warp.py) and the SSIM blur (losses/similarity.py) share it.

    shifted_sum(x, w, dim)[i] = sum_t w[t] * x[i + t - r],   r = len(w) // 2, x = 0 outside

PyTorch's CPU kernels for the same sums (stride-1 average pooling, grouped convolutions) took
4-7x longer than these len(w) multiply-adds over the whole tensor (issue L, docs/training.md);
the results are the same numbers (tests/models, tests/losses).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from stillmotion_trainer.autograd_state import keeps_graph


def shifted_sum(x: torch.Tensor, weights: Sequence[float], dim: int) -> torch.Tensor:
    """sum_t weights[t] * x[i + t - r] along `dim` (r = len(weights) // 2, odd length), x taken
    as 0 outside its extent; the same shape as x."""
    n, r = x.shape[dim], len(weights) // 2
    if not keeps_graph(x):
        # no backward pass to serve: each tap added to the part of the sum it reaches, the
        # same additions in the same order (0 + w x is w x), without the zero-padded copy:
        # 1.2-1.5x faster; under autograd the in-place adds to slices were 1.4x slower
        total = torch.zeros_like(x)
        for t, weight in enumerate(weights):
            lo, hi = max(0, r - t), min(n, n + r - t)  # total[i] += w x[i + t - r]
            if hi > lo:
                total.narrow(dim, lo, hi - lo).add_(
                    x.narrow(dim, lo + t - r, hi - lo), alpha=weight
                )
        return total
    pad = [0] * (2 * (x.dim() - dim))  # F.pad lists the last dimension first
    pad[-2] = pad[-1] = r
    padded = F.pad(x, pad)
    total = padded.narrow(dim, 0, n) * weights[0]
    for t in range(1, len(weights)):
        total.add_(padded.narrow(dim, t, n), alpha=weights[t])
    return total
