"""The average-pooled image at several strides, each level pooled from the finer one before it.

    pooled_pyramid(x, strides)[s] == F.avg_pool2d(x, s, ceil_mode=True)   for every s in strides

(equal up to float rounding). The matcher's embeddings (warp.py, step 1) each start from the frame
pooled by their stride, 1/32 to 1/2: pooled one by one from the full frame, every level read the
whole frame again, and onnxruntime's AveragePool took 0.5-0.8 ms a level on a 256 px frame (2.8 of
the features graph's 4.1 ms on one core, docs/models.md, "One pyramid for the matcher's levels").
Pooled from the level before, only the first level reads the full frame.

Exactness where a frame is not a multiple of a stride: ceil_mode makes the last row and column of
cells partial, each the mean of the pixels it holds. A coarse cell averaged from finer cells must
weight each by its pixel count n_p (a partial finer cell holds fewer pixels):

    mean_s = sum_children(mean_p * n_p) / sum_children(n_p)
           = pool_f(mean_p * n_p) / pool_f(n_p),   f = s / p

(pool_f, the f x f ceil_mode mean, divides both by the same number of children). n_p(i, j) =
min(p, H - i p) * min(p, W - j p), built from the frame's size, so the export keeps H and W
dynamic. From the frame itself (p = 1) every cell holds one pixel and no weighting is needed.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def cell_counts(like: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
    """Pixels per cell of a frame of `size` (H, W) pooled by `stride` with ceil_mode:
    (1, 1, ceil(H / s), ceil(W / s)), min(s, H - i s) * min(s, W - j s); dtype and device of
    `like`."""
    h, w = size
    rows = torch.arange(like.shape[-2], dtype=like.dtype, device=like.device)
    cols = torch.arange(like.shape[-1], dtype=like.dtype, device=like.device)
    rows = (h - stride * rows).clamp(max=stride).view(1, 1, -1, 1)
    cols = (w - stride * cols).clamp(max=stride).view(1, 1, 1, -1)
    return rows * cols


def pooled_pyramid(image: torch.Tensor, strides: Sequence[int]) -> dict[int, torch.Tensor]:
    """{s: F.avg_pool2d(image, s, ceil_mode=True)} for each s in `strides` (1 gives the image
    itself), each pooled from the finest level already made whose stride divides s (module
    docstring). image (B, C, H, W) -> {s: (B, C, ceil(H / s), ceil(W / s))}."""
    size = (image.shape[-2], image.shape[-1])
    levels: dict[int, torch.Tensor] = {1: image}
    for s in sorted(set(strides)):
        if s in levels:
            continue
        p = max(q for q in levels if s % q == 0)
        f = s // p
        finer = levels[p]
        if p == 1:
            levels[s] = F.avg_pool2d(finer, f, ceil_mode=True)
        else:
            counts = cell_counts(finer, size, p)
            levels[s] = F.avg_pool2d(finer * counts, f, ceil_mode=True) / F.avg_pool2d(
                counts, f, ceil_mode=True
            )
    return {s: levels[s] for s in strides}
