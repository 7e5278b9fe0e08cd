"""The full training loss of one batch of walks — METHOD.md step 6.

Mirrored by packages/losses/src/training-loss.ts. Batch layout: B videos (N_V), T transitions
each (N_F), transition t maps frame s_t to s_{t+1}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import torch

from stillmotion_trainer.losses.method_losses import first_mask_loss, image_loss, second_mask_loss
from stillmotion_trainer.losses.phi import PHI_FUNCTIONS
from stillmotion_trainer.losses.similarity import SIMILARITY_FUNCTIONS
from stillmotion_trainer.losses.validation import (
    LossInputError,
    check_bool_flags,
    check_choice,
    check_tensor,
    check_unit_scalar,
)


@dataclass
class LossConfig:
    """Which φ and d to use, the θ thresholds and the term weights (defaults: METHOD.md)."""

    phi: str = "dice"  # φ for both mask terms
    image_phi: str = "l1"  # φ for the image term
    d: str = "ssim"
    gamma1: float = 0.8
    gamma2: float = 0.5
    lambda_image: float = 1.0
    lambda_m1: float = 1.0
    lambda_m2: float = 1.0
    lambda_adv: float = 0.0

    def __post_init__(self) -> None:
        check_choice("LossConfig.phi", self.phi, list(PHI_FUNCTIONS))
        check_choice("LossConfig.image_phi", self.image_phi, list(PHI_FUNCTIONS))
        check_choice("LossConfig.d", self.d, list(SIMILARITY_FUNCTIONS))
        check_unit_scalar("LossConfig.gamma1", self.gamma1)
        check_unit_scalar("LossConfig.gamma2", self.gamma2)
        for name in ("lambda_image", "lambda_m1", "lambda_m2", "lambda_adv"):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                raise LossInputError(
                    f"LossConfig.{name}", f"expected a finite number >= 0, got {value!r}"
                )


def training_loss(
    frames_in: torch.Tensor,  # (B, T, C, H, W)  I_{s_t}, real frames fed to G
    frames_next: torch.Tensor,  # (B, T, C, H, W)  I_{s_{t+1}}, real targets
    pred_images: torch.Tensor,  # (B, T, C, H, W)  I^_{s_{t+1}}
    mask_in: torch.Tensor,  # (B, T, 1, H, W)  M^_{s_t}, the mask fed to G
    pred_masks: torch.Tensor,  # (B, T, 1, H, W)  M^_{s_{t+1}}
    mask_in_inferred: torch.Tensor,  # (B, T) bool, False where mask_in is the random seed
    key_images: torch.Tensor,  # (B, K, C, H, W)  I_k
    key_masks: torch.Tensor,  # (B, K, 1, H, W)  M_k
    key_valid: torch.Tensor,  # (B, K) bool
    cfg: LossConfig,
    adv: Optional[torch.Tensor] = None,  # scalar generator adversarial loss, already averaged
    d_first: Optional[torch.Tensor] = None,  # (B, T)  d(I_{s_t}, I_{s_{t+1}}) if already known
    d_second: Optional[torch.Tensor] = None,  # (B, T, K)  d(I_k, I_{s_{t+1}}) if already known
) -> Dict[str, torch.Tensor]:
    """Training loss = λ_I L_I + λ_M1 L_M1 + λ_M2 L_M2 + λ_adv L_adv — METHOD.md step 6.

    Each term is averaged as 1 / (N_V · N_F) · Σ_videos Σ_transitions, i.e. its (B, T) values
    summed and divided by B·T. Transitions whose mask input was NOT inferred (the random seed
    of step 0, mask_in_inferred False) contribute 0 to the L_M1 sum but still count in the
    denominator B·T, as METHOD.md writes the average. L_M2 of a transition is the mean over the
    video's valid key frames (0 if it has none).

    d_first / d_second: cfg.d of exactly those image pairs, when the caller computed them once
    for pairs that repeat (a cycle walk visits a pair out and back; every transition of a clip
    meets the same key frames): training.walk_pass does, with losses.similarity.pair_similarity.
    The loss is the same; None computes d here.

    Returns scalars {"image", "mask_first", "mask_second", "adv", "total"}; "adv" is `adv` or 0.
    `lambda_adv > 0` without `adv` raises, since the GAN term would silently vanish.
    """
    names = ("frames_in", "frames_next", "pred_images", "mask_in", "pred_masks")
    tensors = (frames_in, frames_next, pred_images, mask_in, pred_masks)
    for name, t in zip(names, tensors):
        check_tensor(name, t, 5, "(B, T, C, H, W)")
    bsz, steps, c, h, w = frames_in.shape
    for name, t in zip(names[1:3], tensors[1:3]):
        if tuple(t.shape) != (bsz, steps, c, h, w):
            raise LossInputError(
                name, f"shape {tuple(t.shape)} does not match frames_in {tuple(frames_in.shape)}"
            )
    for name, t in zip(names[3:], tensors[3:]):
        if tuple(t.shape) != (bsz, steps, 1, h, w):
            raise LossInputError(
                name,
                f"expected shape {(bsz, steps, 1, h, w)} (B, T, 1, H, W), got {tuple(t.shape)}",
            )
    check_bool_flags("mask_in_inferred", mask_in_inferred, (bsz, steps))
    check_tensor("key_images", key_images, 5, "(B, K, C, H, W)", allow_empty=True)
    k = key_images.shape[1]
    if tuple(key_images.shape) != (bsz, k, c, h, w):
        raise LossInputError(
            "key_images",
            f"expected shape {(bsz, k, c, h, w)} (B, K, C, H, W), got "
            f"{tuple(key_images.shape)}",
        )
    check_tensor("key_masks", key_masks, 5, "(B, K, 1, H, W)", allow_empty=True)
    if tuple(key_masks.shape) != (bsz, k, 1, h, w):
        raise LossInputError(
            "key_masks",
            f"expected shape {(bsz, k, 1, h, w)} (B, K, 1, H, W), got {tuple(key_masks.shape)}",
        )
    check_bool_flags("key_valid", key_valid, (bsz, k))
    if adv is not None:
        check_tensor("adv", adv, 0, "(scalar)", unit_range=False)
    elif cfg.lambda_adv > 0:
        raise LossInputError("adv", f"required when lambda_adv > 0 (got {cfg.lambda_adv})")

    n = bsz * steps

    def flat(x: torch.Tensor) -> torch.Tensor:  # (B, T, ...) -> (B*T, ...)
        return x.reshape(n, *x.shape[2:])

    def per_transition(x: torch.Tensor) -> torch.Tensor:  # (B, K, ...) -> (B*T, K, ...)
        return x.unsqueeze(1).expand(bsz, steps, *x.shape[1:]).reshape(n, *x.shape[1:])

    # 1. L_I — step 3
    l_image = image_loss(flat(frames_next), flat(pred_images), cfg.image_phi)  # (B*T,)
    # 2. L_M1 — step 4, only where the mask input was itself inferred
    l_first = first_mask_loss(
        flat(mask_in), flat(pred_masks), flat(frames_in), flat(frames_next),
        cfg.phi, cfg.d, cfg.gamma1, cfg.gamma2,
        d_value=None if d_first is None else _given_d("d_first", d_first, (bsz, steps)).reshape(n),
    )  # fmt: skip
    l_first = torch.where(flat(mask_in_inferred), l_first, torch.zeros_like(l_first))
    # 3. L_M2 — step 5, against every valid key frame of the same video (a given d needs no
    #    copy of the key images per transition)
    d_second_flat = None
    if d_second is not None:
        d_second_flat = _given_d("d_second", d_second, (bsz, steps, k)).reshape(n, k)
    l_second = second_mask_loss(
        per_transition(key_masks),
        per_transition(key_images) if d_second is None else None,
        per_transition(key_valid), flat(pred_masks), flat(frames_next),
        cfg.phi, cfg.d, cfg.gamma1, cfg.gamma2, d_value=d_second_flat,
    )  # fmt: skip
    # 4. 1 / (N_V · N_F) · Σ — step 6
    image = l_image.sum() / n
    mask_first = l_first.sum() / n
    mask_second = l_second.sum() / n
    adv_term = adv if adv is not None else image.new_zeros(())
    total = (
        cfg.lambda_image * image
        + cfg.lambda_m1 * mask_first
        + cfg.lambda_m2 * mask_second
        + cfg.lambda_adv * adv_term
    )
    return {
        "image": image,
        "mask_first": mask_first,
        "mask_second": mask_second,
        "adv": adv_term,
        "total": total,
    }


def _given_d(name: str, d: object, shape: tuple[int, ...]) -> torch.Tensor:
    """A caller's precomputed d of `shape`, values in [0, 1]."""
    t = check_tensor(name, d, len(shape), allow_empty=True)
    if tuple(t.shape) != shape:
        raise LossInputError(name, f"expected shape {shape}, got {tuple(t.shape)}")
    return t
