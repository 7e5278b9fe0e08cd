"""Detail-preserving sampling of a still for composed roll-outs (issue 17, sharpness).

A composed frame is the still sampled once at a sub-pixel map (models/still_to_video.py).
Any interpolating kernel averages neighbouring pixels at a fractional offset, and at a half-pixel
offset the finest pattern (one pixel on, one off) cancels outright: over uniformly spread offsets
bicubic (a = -0.75) keeps about 0.67 of white noise's Laplacian variance, Lanczos-3 0.73,
Lanczos-4 0.79 (docs/generation.md, "Detail-preserving sampling"). A real frame has no such loss:
ultrasound speckle and a scope's sensor texture are as fine in every frame as in the still, and
a moved still whose speckle blurs fails the sharpness target (0.63 on a breast-ultrasound still).
So the still is split once into a smooth base and its fine detail, and only the base is
interpolated:

    G_sigma        the normalised Gaussian, g_k = exp(-k^2 / (2 sigma^2)) for |k| <= r,
                   r = max(1, ceil(3 sigma)),
                   applied along x then y, indices outside the frame mirrored about the edge
                   pixels (BORDER_REFLECT_101, models/camera_motion.mirror)
    base   = G_sigma * I_0,   detail = I_0 - base
    out(p) = bicubic(base, p + f(p)) + detail(nearest(p + f(p)))
    nearest(q) = (clamp(floor(q_x + 1/2), 0, W - 1), clamp(floor(q_y + 1/2), 0, H - 1))

The detail moves by whole pixels, so it keeps its per-pixel statistics; the base carries the
sub-pixel motion and every edge wider than sigma. At whole-pixel maps out = I_0 moved exactly, as
for bicubic. sigma = 0 is plain bicubic (image_warp.sample_image). The mask is not touched: it
stays bilinear (models/warp.warp). packages/inference/src/detail-sampling.ts mirrors this module.
"""

from __future__ import annotations

import math

import torch

from stillmotion_trainer.models.camera_motion import mirror
from stillmotion_trainer.models.image_warp import sample_image

DEFAULT_DETAIL = 1.0  # sigma in pixels of the frame (docs/generation.md: 0.7, 1.0 and 1.5 tried)


def gaussian_taps(sigma: float) -> torch.Tensor:
    """g_k for k = -r..r, r = max(1, ceil(3 sigma)), summing to 1 (float64). sigma > 0."""
    r = max(1, math.ceil(3 * sigma))
    k = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-(k * k) / (2 * sigma * sigma))
    return g / g.sum()


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """G_sigma * image for image (B, C, H, W): separable, x then y, indices mirrored."""
    g = gaussian_taps(sigma).to(image.dtype)
    r = (g.numel() - 1) // 2
    out = image
    for dim in (3, 2):
        n = out.shape[dim]
        offsets = torch.arange(-r, r + 1, dtype=torch.float64)
        # (n, 2r + 1) source index of each tap of each output position, mirrored into [0, n - 1]
        idx = mirror(torch.arange(n, dtype=torch.float64)[:, None] + offsets, n).round().long()
        taps = out.index_select(dim, idx.flatten())  # dim now n * (2r + 1)
        shape = list(out.shape)
        shape[dim : dim + 1] = [n, 2 * r + 1]
        taps = taps.reshape(shape)
        out = (taps * g.view([-1] + [1] * (len(shape) - dim - 2))).sum(dim + 1)
    return out


def split_detail(still: torch.Tensor, sigma: float) -> torch.Tensor:
    """detail = still - G_sigma * still (B, C, H, W); zeros for sigma = 0 (plain bicubic)."""
    if not sigma >= 0:
        raise ValueError(f"detail: expected a number >= 0, got {sigma}")
    if sigma == 0:
        return torch.zeros_like(still)
    return still - blur(still, sigma)


def sample_nearest(x: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """out(p) = x(nearest(p + field(p))), edge pixels repeated outside the frame.
    x (B, C, H, W); field (B, 2, H, W) in pixels."""
    b, c, h, w = x.shape
    xs = torch.arange(w, dtype=field.dtype, device=field.device).view(1, 1, -1)
    ys = torch.arange(h, dtype=field.dtype, device=field.device).view(1, -1, 1)
    ix = torch.floor(xs + field[:, 0] + 0.5).clamp(0, w - 1).long()  # (B, H, W)
    iy = torch.floor(ys + field[:, 1] + 0.5).clamp(0, h - 1).long()
    idx = (iy * w + ix).view(b, 1, h * w).expand(b, c, h * w)
    return torch.gather(x.reshape(b, c, h * w), 2, idx).view(b, c, h, w)


def sample_detailed(still: torch.Tensor, detail: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """out(p) = bicubic(still - detail, p + field(p)) + detail(nearest(p + field(p))): the
    module docstring's formula with detail = split_detail(still, sigma)."""
    return sample_image(still - detail, field) + sample_nearest(detail, field)
