"""d — the similarity of two ORIGINAL images (METHOD.md steps 4-5), in [0, 1], larger = more alike.

Each d takes two (B, C, H, W) tensors in [0, 1] and returns (B,). Mirrored in TypeScript by
packages/losses/src/similarity.ts. The choices METHOD.md leaves open are fixed here and in
docs/losses.md:

- "ssim": Wang et al. (2004) SSIM with an 11-tap Gaussian window (σ = 1.5), C1 = 0.01², C2 = 0.03²
  (data range 1), per channel, averaged over C, H, W, then clamped to [0, 1]. At the borders the
  window is cut to the image and re-normalised (no padding values enter the statistics), so any
  size works, down to 1x1.
- "1-l1": 1 - mean |A - B|.
- "ncc": global normalised cross-correlation over C, H, W, clamped to [0, 1] (anti-correlated
  counts as unrelated, like SSIM's clamp). Two flat images give 1 (NCC ignores brightness
  offsets); exactly one flat image gives 0.
"""

from __future__ import annotations

import contextlib
from typing import Callable, ContextManager, Dict

import torch
import torch.nn.functional as F

from stillmotion_trainer.losses.validation import (
    LossInputError,
    check_choice,
    check_same_shape,
    check_tensor,
)
from stillmotion_trainer.sliding import shifted_sum

SSIM_RADIUS = 5  # 11 taps
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2
SSIM_C2 = 0.03**2
# Per-element variance under which an image counts as flat for NCC (values lie in [0, 1], real
# frames have variances many orders of magnitude above this).
NCC_FLAT_VARIANCE = 1e-10


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    check_tensor("a", a, 4, "(B, C, H, W)")
    check_tensor("b", b, 4, "(B, C, H, W)")
    check_same_shape(["a", "b"], [a, b])


def gaussian_taps(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The un-normalised 1-D window w_t = exp(-t² / 2σ²), t = -5..5.  -> (11,)"""
    t = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=dtype, device=device)
    return torch.exp(-(t * t) / (2.0 * SSIM_SIGMA**2))


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian mean with the window cut at the borders and re-normalised.

    (N, M, H, W) -> (N, M, H, W). Zero padding + dividing by the in-image weight sum is the same
    as averaging only the pixels that exist; it separates because the window does.
    """
    h, w = x.shape[-2], x.shape[-1]
    taps = gaussian_taps(x.dtype, x.device)
    # the window's taps as shifted slices (sliding.shifted_sum): the grouped convolution it
    # replaces gave the same numbers 4-7x slower on the CPU (issue L)
    weights = taps.tolist()
    x = shifted_sum(x, weights, dim=3) / _window_mass(taps, w).view(1, 1, 1, w)
    return shifted_sum(x, weights, dim=2) / _window_mass(taps, h).view(1, 1, h, 1)


def _window_mass(taps: torch.Tensor, length: int) -> torch.Tensor:
    """Sum of the taps that fall inside a line of `length` pixels, per position.  -> (length,)"""
    ones = torch.ones(1, 1, length, dtype=taps.dtype, device=taps.device)
    return F.conv1d(ones, taps.view(1, 1, -1), padding=SSIM_RADIUS)[0, 0]


def ssim_per_sample(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM over C, H, W, NOT clamped (in [-1, 1]); the one home of the SSIM formula.

    SSIM = (2 μa μb + C1)(2 σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)), with μ, σ the
    Gaussian-weighted local means/(co)variances of each channel.  (B, C, H, W) x2 -> (B,)
    """
    _check_pair(a, b)
    bsz, c, h, w = a.shape
    # E[x²] - μ² cancels catastrophically in half precision, so the statistics are computed in
    # at least float32, with autocast off (it would send the convolutions back to fp16).
    dtype = torch.promote_types(a.dtype, torch.float32)
    with _autocast_off(a.device):
        x = a.reshape(bsz * c, 1, h, w).to(dtype)
        y = b.reshape(bsz * c, 1, h, w).to(dtype)
        return _ssim_map(x, y).reshape(bsz, -1).mean(1)


def _autocast_off(device: torch.device) -> ContextManager:
    if device.type in ("cuda", "cpu"):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def _ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) x2 -> (N, H, W) SSIM map."""
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1))  # (N, 5, H, W)
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.unbind(1)
    return _ssim_from_moments(mu_x, mu_y, e_xx, e_yy, e_xy)


def _ssim_from_moments(
    mu_x: torch.Tensor,
    mu_y: torch.Tensor,
    e_xx: torch.Tensor,
    e_yy: torch.Tensor,
    e_xy: torch.Tensor,
) -> torch.Tensor:
    """The SSIM map from the Gaussian-weighted moments E[x], E[y], E[x²], E[y²], E[xy].
    Each (N, H, W) -> (N, H, W)."""
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + SSIM_C1) * (2.0 * cov + SSIM_C2)
    den = (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return num / den


def ssim_pairs(images: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (NOT clamped) of P pairs of images drawn from one stack, as ssim_per_sample
    would give for images[first] against images[second], with each image's own moments (E[x],
    E[x²]) blurred once however many pairs it is in: only E[xy] is per pair, 1 blurred plane per
    channel and pair instead of 5 (the training loss's d terms, issue L).

    images (N, C, H, W), first / second (P,) long indices into N -> (P,)
    """
    check_tensor("images", images, 4, "(N, C, H, W)")
    n, c, h, w = images.shape
    dtype = torch.promote_types(images.dtype, torch.float32)
    first, second = first.to(images.device), second.to(images.device)
    with _autocast_off(images.device):
        x = images.reshape(n * c, 1, h, w).to(dtype)
        own = _blur(torch.cat([x, x * x], dim=1)).view(n, c, 2, h, w)  # E[x], E[x²] per image
        xa, xb = x.view(n, c, h, w)[first], x.view(n, c, h, w)[second]  # (P, C, H, W)
        e_xy = _blur((xa * xb).reshape(-1, 1, h, w)).view(-1, c, h, w)  # (P, C, H, W)
        ssim = _ssim_from_moments(
            own[first, :, 0], own[second, :, 0], own[first, :, 1], own[second, :, 1], e_xy
        )  # (P, C, H, W)
        return ssim.flatten(1).mean(1)


def d_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d_ssim(A, B) = clamp(mean SSIM(A, B), 0, 1).  (B, C, H, W) x2 -> (B,)"""
    return ssim_per_sample(a, b).clamp(0.0, 1.0)


def d_one_minus_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d_1-l1(A, B) = 1 - mean_{c,h,w} |A - B|.  (B, C, H, W) x2 -> (B,)"""
    _check_pair(a, b)
    return 1.0 - (a - b).abs().flatten(1).mean(1)


def d_ncc(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d_ncc(A, B) = clamp(cov(A, B) / sqrt(var A · var B), 0, 1) over c,h,w; flat cases below.

    var < NCC_FLAT_VARIANCE counts as flat: both flat -> 1, exactly one flat -> 0.
    (B, C, H, W) x2 -> (B,)
    """
    _check_pair(a, b)
    x = a.flatten(1)
    y = b.flatten(1)
    xc = x - x.mean(1, keepdim=True)
    yc = y - y.mean(1, keepdim=True)
    var_x = (xc * xc).mean(1)
    var_y = (yc * yc).mean(1)
    cov = (xc * yc).mean(1)
    flat_x = var_x < NCC_FLAT_VARIANCE
    flat_y = var_y < NCC_FLAT_VARIANCE
    any_flat = flat_x | flat_y
    # The safe denominator keeps sqrt's gradient finite where the flat rules take over.
    denom = torch.sqrt(torch.where(any_flat, torch.ones_like(var_x), var_x * var_y))
    ncc = (cov / denom).clamp(0.0, 1.0)
    flat_value = (flat_x & flat_y).to(ncc.dtype)  # 1 if both flat, 0 if only one is
    return torch.where(any_flat, flat_value, ncc)


SIMILARITY_FUNCTIONS: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ssim": d_ssim,
    "1-l1": d_one_minus_l1,
    "ncc": d_ncc,
}


def similarity(name: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d by name ("ssim", "1-l1", "ncc"); an unknown name raises LossInputError listing them."""
    check_choice("d", name, list(SIMILARITY_FUNCTIONS))
    return SIMILARITY_FUNCTIONS[name](a, b)


def pair_similarity(
    name: str, images: torch.Tensor, first: torch.Tensor, second: torch.Tensor
) -> torch.Tensor:
    """d by name of P pairs from one stack of images: similarity(name, images[first],
    images[second]), computed without copying the pairs out for "ssim" (ssim_pairs reuses each
    image's moments).  images (N, C, H, W), first / second (P,) long -> (P,)"""
    check_choice("d", name, list(SIMILARITY_FUNCTIONS))
    if first.shape != second.shape or first.dim() != 1:
        raise LossInputError(
            "first",
            f"expected two (P,) index tensors of one shape, got {tuple(first.shape)} and "
            f"{tuple(second.shape)}",
        )
    if name == "ssim":
        return ssim_pairs(images, first, second).clamp(0.0, 1.0)
    return SIMILARITY_FUNCTIONS[name](images[first], images[second])
