"""Clip augmentation: one random draw applied identically to every frame and mask of a clip.

The generator learns motion between consecutive frames, so an augmentation must never differ
between frames of one clip (that would be fake motion) nor between a frame and its masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ClipAugmentation:
    """One draw of augmentation parameters for a whole clip."""

    hflip: bool = False
    vflip: bool = False
    angle_deg: float = 0.0
    scale: float = 1.0
    translate: tuple[float, float] = (0.0, 0.0)  # (x, y) as a fraction of width/height
    brightness: float = 1.0
    contrast: float = 1.0

    @staticmethod
    def sample(rng: np.random.Generator, modality: str) -> "ClipAugmentation":
        """Small, plausible changes. Ultrasound keeps the probe at the top: no vertical flip."""
        endoscopy = modality == "endoscopy"
        return ClipAugmentation(
            hflip=bool(rng.random() < 0.5),
            vflip=bool(endoscopy and rng.random() < 0.5),
            angle_deg=float(rng.uniform(-10.0, 10.0) if endoscopy else rng.uniform(-5.0, 5.0)),
            scale=float(rng.uniform(0.9, 1.1)),
            translate=(float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.05, 0.05))),
            brightness=float(rng.uniform(0.85, 1.15)),
            contrast=float(rng.uniform(0.85, 1.15)),
        )

    def _theta(self, height: int, width: int) -> torch.Tensor:
        """affine_grid matrix mapping output to input in normalised coordinates.

        A rotation in pixel space becomes an aspect-corrected matrix in [-1, 1] coordinates,
        so non-square frames rotate without shearing.
        """
        a = math.radians(self.angle_deg)
        c, s = math.cos(a) / self.scale, math.sin(a) / self.scale
        tx, ty = 2.0 * self.translate[0], 2.0 * self.translate[1]
        return torch.tensor(
            [[c, -s * height / width, tx], [s * width / height, c, ty]], dtype=torch.float32
        )

    def _geometry(self, x: torch.Tensor) -> torch.Tensor:
        """Flip then warp x (N, C, H, W) bilinearly; outside the frame becomes 0."""
        if self.hflip:
            x = torch.flip(x, dims=[3])
        if self.vflip:
            x = torch.flip(x, dims=[2])
        n, _, h, w = x.shape
        theta = self._theta(h, w).unsqueeze(0).expand(n, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def apply_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (T, C, H, W) in [0, 1] -> same shape, warped and photometrically changed."""
        out = self._geometry(frames)
        out = ((out - 0.5) * self.contrast + 0.5) * self.brightness
        return out.clamp(0.0, 1.0)

    def apply_masks(self, masks: torch.Tensor) -> torch.Tensor:
        """masks (T, 1, H, W) in {0, 1} -> warped, re-binarised at 0.5."""
        return (self._geometry(masks) >= 0.5).to(masks.dtype)
