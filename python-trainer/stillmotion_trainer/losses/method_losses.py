"""The per-transition loss terms of METHOD.md steps 3-5, each (B,), one value per transition.

Mirrored by packages/losses/src/method-losses.ts. How far gradients flow back through the mask
chain is the caller's choice (detach `mask_in` before calling to stop them); these functions
never detach.
"""

from __future__ import annotations

from typing import Optional

import torch

from stillmotion_trainer.losses.phi import phi
from stillmotion_trainer.losses.similarity import similarity
from stillmotion_trainer.losses.theta import theta
from stillmotion_trainer.losses.validation import (
    LossInputError,
    check_bool_flags,
    check_same_shape,
    check_tensor,
)


def image_loss(target_next: torch.Tensor, pred_next: torch.Tensor, phi_name: str) -> torch.Tensor:
    """L_I = φ(I_{s_{j+1}}, I^_{s_{j+1}}) — step 3.  (B, C, H, W) x2 -> (B,)"""
    check_tensor("target_next", target_next, 4, "(B, C, H, W)")
    check_tensor("pred_next", pred_next, 4, "(B, C, H, W)")
    check_same_shape(["target_next", "pred_next"], [target_next, pred_next])
    return phi(phi_name, target_next, pred_next)


def first_mask_loss(
    mask_in: torch.Tensor,  # (B, 1, H, W)  M^_{s_j}, inferred at the previous step
    mask_out: torch.Tensor,  # (B, 1, H, W)  M^_{s_{j+1}}
    image_in: torch.Tensor,  # (B, C, H, W)  I_{s_j}
    image_next: torch.Tensor,  # (B, C, H, W)  I_{s_{j+1}}
    phi_name: str,
    d_name: str,
    gamma1: float,
    gamma2: float,
    d_value: Optional[torch.Tensor] = None,  # (B,) d(I_{s_j}, I_{s_{j+1}}) if already known
) -> torch.Tensor:
    """L_M1 = θ(φ(M^_{s_j}, M^_{s_{j+1}}), d(I_{s_j}, I_{s_{j+1}})) — step 4.  -> (B,)

    Only meaningful where M^_{s_j} was inferred; training_loss applies that exclusion.
    d_value: d of the same image pairs, computed once by the caller when the pairs repeat
    (losses.similarity.pair_similarity); None computes it here.
    """
    _check_masks_images("mask_in", mask_in, "image_in", image_in)
    _check_masks_images("mask_out", mask_out, "image_next", image_next)
    check_same_shape(["mask_in", "mask_out"], [mask_in, mask_out])
    check_same_shape(["image_in", "image_next"], [image_in, image_next])
    phi_value = phi(phi_name, mask_in, mask_out)
    if d_value is None:
        d_value = similarity(d_name, image_in, image_next)
    else:
        _check_given_d("d_value", d_value, (mask_in.shape[0],))
    return theta(phi_value, d_value, gamma1, gamma2)


def second_mask_loss(
    key_masks: torch.Tensor,  # (B, K, 1, H, W)  M_k
    key_images: Optional[torch.Tensor],  # (B, K, C, H, W)  I_k; None only with d_value
    key_valid: torch.Tensor,  # (B, K) bool, False for padding slots
    mask_out: torch.Tensor,  # (B, 1, H, W)  M^_{s_{j+1}}
    image_next: torch.Tensor,  # (B, C, H, W)  I_{s_{j+1}}
    phi_name: str,
    d_name: str,
    gamma1: float,
    gamma2: float,
    d_value: Optional[torch.Tensor] = None,  # (B, K) d(I_k, I_{s_{j+1}}) if already known
) -> torch.Tensor:
    """L_M2 = mean over valid k of θ(φ(M_k, M^_{s_{j+1}}), d(I_k, I_{s_{j+1}})) — step 5.  -> (B,)

    A sample with no valid key frame gets 0 (there is nothing to compare against).
    d_value: d of the same image pairs, computed once by the caller when the pairs repeat (a
    key frame is compared with every transition of its clip); then key_images may be None.
    """
    # K = 0 (a video without key frames) is allowed and gives 0.
    check_tensor("key_masks", key_masks, 5, "(B, K, 1, H, W)", allow_empty=True)
    _check_masks_images("mask_out", mask_out, "image_next", image_next)
    bsz, k = key_masks.shape[:2]
    if tuple(key_masks.shape) != (bsz, k, *mask_out.shape[1:]):
        raise LossInputError(
            "key_masks",
            f"shape {tuple(key_masks.shape)} does not match (B, K) + mask_out shape "
            f"{tuple(mask_out.shape[1:])} with B={mask_out.shape[0]}",
        )
    if d_value is not None:
        _check_given_d("d_value", d_value, (bsz, k))
    elif key_images is None:
        raise LossInputError("key_images", "required when d_value is not given")
    if key_images is not None:
        check_tensor("key_images", key_images, 5, "(B, K, C, H, W)", allow_empty=True)
        if tuple(key_images.shape) != (bsz, k, *image_next.shape[1:]):
            raise LossInputError(
                "key_images",
                f"shape {tuple(key_images.shape)} does not match (B, K) = {(bsz, k)} + "
                f"image_next shape {tuple(image_next.shape[1:])} with B={image_next.shape[0]}",
            )
    if bsz != mask_out.shape[0]:
        raise LossInputError(
            "key_masks", f"batch {bsz} does not match mask_out batch {mask_out.shape[0]}"
        )
    check_bool_flags("key_valid", key_valid, (bsz, k))
    if k == 0:
        return mask_out.new_zeros(bsz) + 0.0 * mask_out.sum()  # keeps the graph connected
    flat_masks = key_masks.reshape(bsz * k, *key_masks.shape[2:])
    rep_mask = mask_out.unsqueeze(1).expand_as(key_masks).reshape(flat_masks.shape)
    phi_value = phi(phi_name, flat_masks, rep_mask)
    if d_value is None:
        assert key_images is not None  # checked above
        flat_images = key_images.reshape(bsz * k, *key_images.shape[2:])
        rep_image = image_next.unsqueeze(1).expand_as(key_images).reshape(flat_images.shape)
        d_value = similarity(d_name, flat_images, rep_image)
    terms = theta(phi_value, d_value.reshape(bsz * k), gamma1, gamma2).view(bsz, k)  # (B, K)
    valid = key_valid.to(terms.dtype)
    return (terms * valid).sum(1) / valid.sum(1).clamp_min(1.0)


def _check_masks_images(
    mask_name: str, mask: torch.Tensor, image_name: str, image: torch.Tensor
) -> None:
    check_tensor(mask_name, mask, 4, "(B, 1, H, W)")
    check_tensor(image_name, image, 4, "(B, C, H, W)")
    if mask.shape[1] != 1:
        raise LossInputError(mask_name, f"expected 1 channel, got shape {tuple(mask.shape)}")
    if mask.shape[0] != image.shape[0] or mask.shape[2:] != image.shape[2:]:
        raise LossInputError(
            mask_name,
            f"shape {tuple(mask.shape)} does not match {image_name} shape {tuple(image.shape)} "
            "in batch and H, W",
        )


def _check_given_d(name: str, d_value: object, shape: tuple[int, ...]) -> None:
    """A caller's precomputed d: a tensor of `shape`, values in [0, 1]."""
    d = check_tensor(name, d_value, len(shape), allow_empty=True)
    if tuple(d.shape) != shape:
        raise LossInputError(name, f"expected shape {shape}, got {tuple(d.shape)}")
