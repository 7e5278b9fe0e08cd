"""The image branch's motion at the scale its network was trained at (issue 17).

A convolutional network learns features of the size its training frames show them. The
synthetic-only quickstart model is trained at 64 px; rolled out on a real still at 128 px it
sees every structure twice as large as it ever saw one, and its first step pulled real stills by
4-5 px on average into a shape of its synthetic world (every later step 0.1-0.3 px), where at
64 px it moves them 0.2-0.4 px a step (docs/generation.md, "The scene at its training scale").
So the branch may run on the frame box-averaged f times per side, its step brought back up:

    f = max(1, floor(max(H, W) / S))            S the model's training frame size (data.size)
    x' = box_f(pad_f(x))                        x = [I_t, M_t]; pad_f repeats the last row and
                                                column up to a multiple of f; box_f the f x f
                                                mean (models/work_scale.box_down)
    (u_f, r_f) = motion of the branch at x'     (models/image_warp.ImageWarpBranch.motion)
    u~ = f * up_f(u_f)[:H, :W]                  up_f bilinear, half-pixel centres
                                                (models/work_scale.bilinear_up); a
                                                displacement of one small pixel is f pixels
    u  = clamp(p + u~, 0, (W - 1, H - 1)) - p   sources inside the frame, as the branch keeps them
    r~ = up_f(r_f)[:H, :W];  r = r~ - mean_{H,W}(r~)   zero mean per channel, as the branch's

f = 1 is the branch's own motion at the frame's size. The TypeScript mirror is
packages/inference/src/motion-scale.ts (shared vectors in both suites).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F

from stillmotion_trainer.models.work_scale import bilinear_up, box_down, check_factor
from stillmotion_trainer.models.image_warp import ImageWarpBranch
from stillmotion_trainer.models.warp import sources_in_frame


def motion_downsample(training_size: Optional[int], height: int, width: int) -> int:
    """f = max(1, floor(max(H, W) / S)); 1 when the training size S is unknown (None)."""
    if training_size is None:
        return 1
    check_factor(training_size, "training size")
    return max(1, math.floor(max(height, width) / training_size))


def training_size(run_config: Any) -> Optional[int]:
    """data.size of a run config (a checkpoint's or an ONNX file's `run_config`), None where the
    config does not say (a weights-only checkpoint without one, an older export)."""
    data = run_config.get("data") if isinstance(run_config, dict) else None
    size = data.get("size") if isinstance(data, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 1 else None


def down_for_motion(x: torch.Tensor, factor: int) -> torch.Tensor:
    """box_f(pad_f(x)): (N, C, H, W) -> (N, C, ceil(H / f), ceil(W / f))."""
    check_factor(factor, "motion_downsample")
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % factor, -w % factor
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return box_down(x, factor)


def up_from_motion(
    u_small: torch.Tensor, r_small: torch.Tensor, factor: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, r) at (height, width) from the branch's (u_f, r_f) at the small size (docstring)."""
    check_factor(factor, "motion_downsample")
    if factor == 1:
        return u_small, r_small
    u = sources_in_frame(bilinear_up(u_small, factor)[..., :height, :width], factor)
    r = bilinear_up(r_small, factor)[..., :height, :width]
    return u, r - r.mean(dim=(2, 3), keepdim=True)


def motion_at_scale(
    branch: ImageWarpBranch, image: torch.Tensor, mask: torch.Tensor, factor: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The branch's (u, r) at (image, mask), its network run f times smaller per side."""
    if factor == 1:
        return branch.motion(image, mask)
    h, w = image.shape[-2:]
    u_small, r_small = branch.motion(down_for_motion(image, factor), down_for_motion(mask, factor))
    return up_from_motion(u_small, r_small, factor, h, w)
