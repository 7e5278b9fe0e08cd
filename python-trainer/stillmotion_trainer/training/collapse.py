"""Collapse detection (issue I): per-step statistics of the predicted masks, and a verdict on
when they stop depending on the input (a literal G(I_t, M_t) trained with the contrastive theta
term can settle on an all-ones mask, which satisfies every "unlike frames" margin).

mask_statistics gives, for one training step's walks (all values in [0, 1]):
    mask_mean        mean predicted mask value;
    mask_above_half  fraction of predicted mask pixels > 0.5;
    mask_spread      how much the predicted masks differ across the batch: the per-pixel standard
                     deviation over the walks, averaged over pixels and transitions (0 = every
                     walk predicts the same mask, whatever its frames and mask inputs); NaN
                     with a single walk;
    mask_key_iou     IoU (masks binarised at 0.5) of the predicted mask and the key mask where a
                     transition lands on a key frame; NaN when no transition of the step does.

CollapseMonitor turns them into a verdict: collapsed when, for `patience` steps in a row, the
masks no longer vary across the batch (spread < `min_spread`) or cover almost everything
(above_half >= `max_above_half`) or almost nothing (mean < `min_mean`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch


@torch.no_grad()
def mask_statistics(
    pred_masks: torch.Tensor,  # (W, J, 1, H, W) predicted M^_{dst[w, j]}
    dst: torch.Tensor,  # (W, J) long, the frame each transition predicts
    clip: torch.Tensor,  # (W,) long, the batch clip of each walk
    key_masks: torch.Tensor,  # (B, T, 1, H, W) key masks (zeros where none)
    is_key: torch.Tensor,  # (B, T) bool
) -> dict[str, float]:
    """The four statistics of the module docstring for one step."""
    p = pred_masks.detach().float()
    spread = float(p.std(dim=0, unbiased=False).mean()) if p.shape[0] > 1 else float("nan")
    dst = dst.to(is_key.device)
    clip_of = clip.to(is_key.device).unsqueeze(1).expand_as(dst)  # (W, J)
    lands_on_key = is_key[clip_of, dst]  # (W, J) bool
    iou = float("nan")
    if bool(lands_on_key.any()):
        pred = p[lands_on_key.to(p.device)] > 0.5  # (N, 1, H, W)
        key = key_masks[clip_of[lands_on_key], dst[lands_on_key]].to(p.device) > 0.5
        inter = (pred & key).flatten(1).sum(1).float()
        union = (pred | key).flatten(1).sum(1).float()
        iou = float(
            torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).mean()
        )
    # (a single walk has no spread; NaN, never 0, so it cannot read as a collapse)
    return {
        "mask_mean": float(p.mean()),
        "mask_above_half": float((p > 0.5).float().mean()),
        "mask_spread": spread,
        "mask_key_iou": iou,
    }


@dataclass
class CollapseMonitor:
    """Counts consecutive collapsed-looking steps; `update` returns a message once per episode."""

    patience: int = 20
    min_spread: float = 0.01
    max_above_half: float = 0.97
    min_mean: float = 0.003
    streak: int = 0
    warned: bool = False

    def symptom(self, stats: dict[str, float]) -> Optional[str]:
        """What looks collapsed in one step's statistics, or None."""
        spread = stats.get("mask_spread", math.nan)
        if not math.isnan(spread) and spread < self.min_spread:
            return f"masks identical across the batch (spread {stats['mask_spread']:.4f})"
        if stats["mask_above_half"] >= self.max_above_half:
            return f"masks almost all ones ({stats['mask_above_half']:.3f} of pixels > 0.5)"
        if stats["mask_mean"] < self.min_mean:
            return f"masks almost empty (mean {stats['mask_mean']:.4f})"
        return None

    def update(self, step: int, stats: dict[str, float]) -> Optional[str]:
        """Feed one step; returns the warning text the first step the streak reaches patience."""
        symptom = self.symptom(stats)
        if symptom is None:
            self.streak, self.warned = 0, False
            return None
        self.streak += 1
        if self.streak >= self.patience and not self.warned:
            self.warned = True
            iou = stats.get("mask_key_iou", math.nan)
            at_key = "" if math.isnan(iou) else f" (IoU with the key mask {iou:.3f})"
            return (
                f"step {step}: mask collapse: {symptom} for {self.streak} steps; the masks no "
                f"longer depend on the input{at_key}. See docs/recipes.md"
            )
        return None

    @property
    def collapsed(self) -> bool:
        return self.streak >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {"streak": self.streak, "warned": self.warned}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.streak, self.warned = int(state["streak"]), bool(state["warned"])
