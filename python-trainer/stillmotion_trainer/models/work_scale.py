"""Working at a fraction of the frames' resolution: frames down, results back up.

Two users: propagation's work scale (below) and the image branch run at its training scale in
a still -> video roll-out (models/motion_scale.py). `propagate_masks(..., downsample=f)` runs
the model on frames f times smaller per side and returns masks at the frames' own size: the
model's cost falls about f² (a 256 px stream runs the generator at 128 px: 78 against 25
frames/s in onnxruntime, docs/models.md "Half size"), for a Dice change on real laryngoscopy of
-0.056 to +0.082 (docs/real-data.md, "Working at half size"). The same two formulas live in the
inference library (packages/inference/src/work-scale.ts; parity vectors in
tests/models/test_model_work_scale.py and work-scale.test.ts):

- down: the f x f box average, y[i, j] = mean of x[f i + a, f j + b] over a, b in 0..f-1
  (for f = 2 the same as bilinear resizing with half-pixel centres; no aliasing for any f);
- up: bilinear with half-pixel centres (torch's align_corners=False): output pixel i reads the
  input at s = (i + 1/2) / f - 1/2, clamped to >= 0, between floor(s) and floor(s) + 1 (the
  last row repeated), weighted by s - floor(s).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def check_factor(factor: int, name: str = "downsample") -> None:
    """Raise ValueError naming option `name` unless factor is an integer >= 1 (bool refused)."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {factor!r}")


def check_downsample(factor: int, height: int, width: int) -> None:
    """Raise ValueError unless factor is an integer >= 1 dividing both sides."""
    check_factor(factor)
    if height % factor or width % factor:
        raise ValueError(
            f"downsample: {factor} does not divide the frame size {height}x{width} "
            "(choose a factor that divides both sides, or resize the frames first)"
        )


def box_down(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H / f, W / f), each output the mean of its f x f block."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


def bilinear_up(x: torch.Tensor, factor: int) -> torch.Tensor:
    """(N, C, h, w) -> (N, C, f h, f w), bilinear with half-pixel centres (module docstring)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
