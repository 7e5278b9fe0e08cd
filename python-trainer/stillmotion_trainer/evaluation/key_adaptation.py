"""Key-frame adaptation: fit the mask correction to one video's key frames before propagating it.

Propagation with the warp head (models/next_frame.py) moves the key mask M_k by the matched
displacement, W = warp(M_k, u), and the learned correction snaps W to what the frame shows:
M^ = clamp(W + 2 s(I, W) - 1, 0, 1), s the correction net's sigmoid. Trained on other videos (or
not at all: it starts at "no correction", s = 1/2) the correction does not know this video's
target. The key frames are where the target's look in this video is known, so before
propagating, a copy of the correction is fitted to them (test-time adaptation, one-shot VOS
style; issue J's "fine-tune the correction on augmented copies of the key frame"). Each of
`steps` steps draws `batch` samples, each from a random key frame k:

    I_a = jitter(A(I_k)),  M_a = [A(M_k) > 1/2]      A: a random affine (rotation, scale, shift);
                                                      jitter: brightness and contrast
    W_a = morph_r(B(M_k)),  B = A composed with a small random affine E
                                                      the key mask carried by a slightly wrong
                                                      motion, eroded or dilated by r pixels:
                                                      what the matcher hands the correction
    loss = BCE(out, M_a) + φ_dice(out, M_a),  out = clamp(W_a + 2 s(I_a, W_a) - 1, 0, 1)
                                                      (NextFrameGenerator.correct)

and Adam updates the correction's parameters only; the matcher and the image branch are not
touched, and the caller's generator is left as it was (the adapted model is a copy).

What it buys on real video (vocalfolds, the shipped model, --reference key): docs/real-data.md,
"Key-frame adaptation". 300 steps at lr 2e-3 beat 150 at 5e-3 clearly there (seq8 0.68 vs
0.55-0.56 over 3 seeds; seq5 0.84 vs 0.48), hence the defaults.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.losses.phi import phi_dice
from stillmotion_trainer.models.next_frame import NextFrameGenerator


class AdaptationError(StillMotionError, ValueError):
    """Adaptation cannot run: bad options, or no learned correction to fit."""

    code = "INVALID_ARGUMENT"


@dataclass(frozen=True)
class AdaptOptions:
    """How the correction is fitted. Geometry is relative to the frame (shift: a fraction of its
    width / height each way; radius: a fraction of its shorter side), so one setting serves
    128 and 256 px."""

    steps: int = 300
    batch: int = 8
    lr: float = 2e-3
    seed: int = 0
    rotation_deg: float = 20.0  # A: the key frame moved as the video might move it
    scale: tuple[float, float] = (0.8, 1.25)
    shift: float = 0.15
    error_rotation_deg: float = 8.0  # E: how wrong the matcher's motion may be
    error_scale: tuple[float, float] = (0.85, 1.18)
    error_shift: float = 0.05
    error_radius: float = 0.025  # erosion / dilation of W, up to 3 px at 128 px
    brightness: float = 0.1
    contrast: tuple[float, float] = (0.8, 1.2)

    def check(self) -> None:
        if self.steps < 0 or self.batch < 1 or not self.lr > 0:
            raise AdaptationError(
                f"adaptation: expected steps >= 0, batch >= 1, lr > 0; got steps={self.steps}, "
                f"batch={self.batch}, lr={self.lr}"
            )


def random_affines(
    n: int, rotation_deg: float, scale: tuple[float, float], shift: float, rng: torch.Generator
) -> torch.Tensor:
    """(n, 2, 3) affine_grid matrices: rotation in ±rotation_deg, log-uniform zoom in `scale`,
    shift in ±shift of the frame (affine_grid's coordinates span 2 per side, hence 2 * shift)."""
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(rotation_deg)
    lo, hi = math.log(scale[0]), math.log(scale[1])
    zoom = torch.exp(lo + (hi - lo) * torch.rand(n, generator=rng))
    tx, ty = ((torch.rand(2, n, generator=rng) * 2 - 1) * 2 * shift).unbind(0)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    return torch.stack(
        [torch.stack([cos, -sin, tx], dim=1), torch.stack([sin, cos, ty], dim=1)], dim=1
    )


def compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The affine `a` after `b` (both (n, 2, 3) affine_grid matrices): x -> a(b(x))."""
    linear = a[:, :, :2] @ b[:, :, :2]
    offset = a[:, :, :2] @ b[:, :, 2:] + a[:, :, 2:]
    return torch.cat([linear, offset], dim=2)


def resample(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """x (n, C, H, W) sampled through theta; images repeat their border, masks read zeros."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    padding = "border" if x.shape[1] > 1 else "zeros"
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def morph(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """(1, 1, H, W) dilated (radius > 0) or eroded (radius < 0) by a (2|r| + 1)² square."""
    r = abs(radius)
    if r == 0:
        return mask
    if radius > 0:
        return F.max_pool2d(mask, 2 * r + 1, 1, r)
    return -F.max_pool2d(-mask, 2 * r + 1, 1, r)


def training_samples(
    frames: torch.Tensor, masks: torch.Tensor, options: AdaptOptions, rng: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch (I_a, M_a, W_a) from key frames (K, C, H, W) and their masks (K, 1, H, W)."""
    n = options.batch
    pick = torch.randint(0, frames.shape[0], (n,), generator=rng)
    image, key_mask = frames[pick], masks[pick]
    a = random_affines(n, options.rotation_deg, options.scale, options.shift, rng)
    error = random_affines(
        n, options.error_rotation_deg, options.error_scale, options.error_shift, rng
    )
    image = resample(image, a)
    brightness = (torch.rand(n, 1, 1, 1, generator=rng) * 2 - 1) * options.brightness
    lo, hi = options.contrast
    contrast = lo + (hi - lo) * torch.rand(n, 1, 1, 1, generator=rng)
    image = ((image - 0.5) * contrast + 0.5 + brightness).clamp(0.0, 1.0)
    target = (resample(key_mask, a) > 0.5).float()
    carried = resample(key_mask, compose(a, error)).clamp(0.0, 1.0)
    r_max = max(0, round(options.error_radius * min(frames.shape[-2:])))
    radii = torch.randint(-r_max, r_max + 1, (n,), generator=rng)
    carried = torch.cat([morph(carried[i : i + 1], int(radii[i])) for i in range(n)])
    return image, target, carried


def has_correction(generator: nn.Module) -> bool:
    """Whether the generator has mask_refine's learned correction (what adaptation fits)."""
    return isinstance(generator, NextFrameGenerator) and generator.refine_net is not None


def adapt_to_keys(
    generator: nn.Module,
    key_frames: torch.Tensor,
    key_masks: torch.Tensor,
    options: AdaptOptions = AdaptOptions(),
) -> nn.Module:
    """A copy of `generator` whose correction is fitted to the key frames (module docstring).

    key_frames (K, C, H, W) in [0, 1], key_masks (K, 1, H, W) in {0, 1}, on the generator's
    device. Deterministic for a given options.seed. The copy is returned in eval mode.
    """
    options.check()
    if not has_correction(generator):
        raise AdaptationError(
            "adaptation needs a generator with a learned correction (model.mask_head: warp "
            "with mask_refine: true); this one has none"
        )
    adapted = copy.deepcopy(generator)
    assert isinstance(adapted, NextFrameGenerator) and adapted.refine_net is not None
    net: nn.Module = adapted.refine_net
    for p in adapted.parameters():
        p.requires_grad_(False)
    params = list(net.parameters())
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=options.lr)
    rng = torch.Generator().manual_seed(options.seed)
    frames, masks = key_frames.detach().cpu(), key_masks.detach().cpu().float()
    device = next(net.parameters()).device
    net.train()
    for _ in range(options.steps):
        image, target, carried = (
            x.to(device) for x in training_samples(frames, masks, options, rng)
        )
        out = adapted.correct(image, carried)
        bce = F.binary_cross_entropy(out.clamp(1e-4, 1 - 1e-4), target)
        loss = bce + phi_dice(out, target).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    for p in adapted.parameters():
        p.requires_grad_(False)
    return adapted.eval()
