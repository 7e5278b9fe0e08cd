"""The `image_head: warp` image branch: the next frame as the current one moved, not repainted.

Issue 17: a head that paints I^_{t+1} learns to paint its training world (synthetic palettes,
blurred averages) and a still rolled out through it drifts away from itself. This branch can
only move and slightly re-light what it is given:

    s = sigmoid(U([I_t, M^_t]))                  an encoder-decoder U, 2 + C output channels
    u = MAX_STEP * (2 s_{0:2} - 1) * (W, H)      motion field in pixels, |u| <= MAX_STEP * side
    u' = clamp(p + u, 0, (W - 1, H - 1)) - p     sources kept inside the frame (edge pixels
                                                 repeat instead of black entering the view)
    r~ = MAX_RESIDUAL * (2 s_{2:} - 1)
    r = r~ - mean_{H,W}(r~)                      residual: occlusions, local lighting; zero mean
                                                 per image and channel, so it cannot shift
                                                 the still's colour
    I^_{t+1} = clamp(sample(I_t, p + u') + r, 0, 1)   bicubic sampling (`sample_image`)
    M_carried = clamp(warp(M^_t, u'), 0, 1)      the same field carries the mask
                                                 (models/warp.warp, bilinear)

The image is sampled bicubically, not bilinearly: a clip resamples its frame at every step, and
bilinear interpolation at a fractional offset is a low-pass filter that compounds. Measured on
the real stills at 128 px, 16 random shifts of up to +-0.3 px left 0.045 of the Laplacian
variance with bilinear sampling and 0.53 with bicubic (the learned field of the first
real-still-to-video run: sharpness 0.011 of the still's after 16 steps; docs/generation.md).

U's output layer starts at zero (weights and bias), so s = 0.5, u = 0 and r = 0: an untrained
branch copies its input exactly. L_I between I^_{t+1} and the real next frame teaches u (the
gradient reaches it through the bilinear sampling) and r.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Optional, cast

import torch
import torch.nn.functional as F
from torch import nn

from stillmotion_trainer.models.blocks import EncoderDecoder, pad_to_multiple
from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.models.warp import pixel_grid, warp

MAX_STEP = 0.1  # largest motion per step, as a fraction of the frame's width / height
MAX_RESIDUAL = 0.1  # largest change of a pixel value per step on top of the warp


def sample_image(image: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """out(p) = image(p + field(p)), bicubic (a = -0.75, PyTorch's and onnxruntime's GridSample),
    edge pixels repeated outside the frame. image (B, C, H, W); field (B, 2, H, W) in pixels."""
    h, w = image.shape[-2], image.shape[-1]
    xs, ys = pixel_grid(image)
    gx = (2 * (xs + field[:, 0:1]) + 1) / w - 1  # (B, 1, H, W), align_corners=False coordinates
    gy = (2 * (ys + field[:, 1:2]) + 1) / h - 1
    grid = torch.cat([gx, gy], dim=1).permute(0, 2, 3, 1)  # (B, H, W, 2)
    return F.grid_sample(image, grid, mode="bicubic", padding_mode="border", align_corners=False)


class ImageWarpBranch(nn.Module):
    """forward(image, mask) -> (next_image, carried_mask); `motion` gives (u', r) alone."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        literal = dataclasses.replace(cfg, next_frame_input=False, mask_head="conv")
        self.net = EncoderDecoder(cfg.channels + 1, 2 + cfg.channels, cfg.base_width, literal)
        head = cast(nn.Conv2d, cast(nn.Sequential, self.net.head)[0])
        nn.init.zeros_(head.weight)  # untrained: u = 0, r = 0, the input copied exactly
        nn.init.zeros_(cast(torch.Tensor, head.bias))
        self._recorded: Optional[list[tuple[torch.Tensor, torch.Tensor]]] = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
        """Within the block, every forward appends its (u', r) to the list yielded: how the ONNX
        export gets the field and residual of the very run that made next_image (outputs
        `next_field`, `next_residual`) without running the encoder-decoder twice
        (export/onnx_export.WithMotionMask)."""
        self._recorded = []
        try:
            yield self._recorded
        finally:
            self._recorded = None

    def motion(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u', r): the field (B, 2, H, W) in pixels (sources inside the frame) and the residual
        (B, C, H, W) of the module docstring."""
        h, w = image.shape[-2], image.shape[-1]
        x = torch.cat([image, mask], dim=1)  # (B, C + 1, H, W)
        x = pad_to_multiple(x, self.cfg.multiple, (h, w))
        s = self.net(x)[..., :h, :w]  # (B, 2 + C, H, W) in (0, 1)
        xs, ys = pixel_grid(image)  # (1, 1, 1, W), (1, 1, H, 1)
        ux = MAX_STEP * (2 * s[:, 0:1] - 1) * w  # (B, 1, H, W) pixels
        uy = MAX_STEP * (2 * s[:, 1:2] - 1) * h
        ux = torch.minimum(torch.clamp(xs + ux, min=0.0), (w - 1) + 0 * xs) - xs
        uy = torch.minimum(torch.clamp(ys + uy, min=0.0), (h - 1) + 0 * ys) - ys
        residual = MAX_RESIDUAL * (2 * s[:, 2:] - 1)  # (B, C, H, W)
        # zero mean per image and channel: a global shift accumulated over a clip's steps was
        # the colour drift of the first run (median 0.041 at frame 16; docs/generation.md)
        residual = residual - residual.mean(dim=(2, 3), keepdim=True)
        return torch.cat([ux, uy], dim=1), residual

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W), (B, 1, H, W) in [0, 1] -> I^_{t+1} (B, C, H, W), the mask carried by
        the same field (B, 1, H, W)."""
        field, residual = self.motion(image, mask)
        if self._recorded is not None:
            self._recorded.append((field, residual))
        next_image = (sample_image(image, field) + residual).clamp(0.0, 1.0)
        return next_image, warp(mask, field).clamp(0.0, 1.0)
