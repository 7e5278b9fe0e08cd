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


STAT_NAMES = ("mask_mean", "mask_above_half", "mask_spread", "mask_key_iou")


@torch.no_grad()
def mask_statistics(
    pred_masks: torch.Tensor,  # (W, J, 1, H, W) predicted M^_{dst[w, j]}
    dst: torch.Tensor,  # (W, J) long, the frame each transition predicts
    clip: torch.Tensor,  # (W,) long, the batch clip of each walk
    key_masks: torch.Tensor,  # (B, T, 1, H, W) key masks (zeros where none)
    is_key: torch.Tensor,  # (B, T) bool
) -> dict[str, float]:
    """The four statistics of the module docstring for one step.

    Cost matters: the loop computes them every step (trainer_step_overhead_ratio, issue L). The
    four values are gathered into one tensor and read with one .tolist() (one device sync on
    CUDA); which transitions land on a key frame is decided on the CPU, where the walks are
    planned. mask_spread is spread_over_walks (the same numbers as torch's std, far cheaper).
    """
    p = pred_masks.detach().float()
    w = p.shape[0]
    clip_of = clip.cpu().unsqueeze(1).expand(dst.shape)  # (W, J)
    dst = dst.cpu()
    lands_on_key = is_key.cpu()[clip_of, dst]  # (W, J) bool
    nan = p.new_full((), float("nan"))
    # (a single walk has no spread; NaN, never 0, so it cannot read as a collapse)
    spread = spread_over_walks(p).mean() if w > 1 else nan
    iou = nan
    if bool(lands_on_key.any()):
        pred = p[lands_on_key.to(p.device)] > 0.5  # (N, 1, H, W)
        key = key_masks[clip_of[lands_on_key].to(key_masks.device),
                        dst[lands_on_key].to(key_masks.device)].to(p.device) > 0.5  # fmt: skip
        inter = (pred & key).flatten(1).sum(1).float()
        union = (pred | key).flatten(1).sum(1).float()
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).mean()
    values = torch.stack([p.mean(), (p > 0.5).float().mean(), spread, iou]).tolist()
    return dict(zip(STAT_NAMES, values))


@torch.no_grad()
def spread_over_walks(p: torch.Tensor) -> torch.Tensor:
    """The per-pixel population standard deviation over dim 0: p (W, ...) -> (...), float32.

        spread = sqrt( (1/W) sum_w (p_w - m)^2 ),   m = (1/W) sum_w p_w     (two passes, float64)

    What p.std(dim=0, unbiased=False) gives on the CPU (ATen reduces with Welford's update in
    float64, through a scalar path that took 6-7 ms of a 140-190 ms step on (4, 7, 1, 64, 64)
    masks): both are float64 computations of the same quantity, rounded once to float32, so
    they agree to that rounding and in practice bit for bit (the tests check both on soft,
    binary and constant masks). Two passes over float64 copies cost about half of Welford's
    W - 1 in-place updates, each five operations (issue L, the loop's overhead). On CUDA,
    where std is fast and reduces in float32, it is torch's std itself.
    """
    if p.device.type != "cpu":
        return p.std(dim=0, unbiased=False)
    x = p.to(torch.float64)
    deviation = x - x.mean(0)
    return deviation.mul_(deviation).mean(0).sqrt_().float()


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
