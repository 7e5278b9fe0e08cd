"""Key-frame anchor transitions (`train.anchor_prob`): one-step walks that land on a key frame.

L_M2 (METHOD.md step 5) at a transition that arrives on key frame k compares the inferred mask
with M_k itself: d(I_k, I_k) = 1 >= gamma_1, so theta(phi, d) = phi(M_k, M^_k). Cycle walks arrive
on their key frame once, at their end, after J transitions whose errors have piled up; a key mask
then teaches the mask branch one thing per step. An anchor transition is the shortest such walk:

    n -> k, n = k - 1 or k + 1 (a neighbour inside the clip), seed mask M~ = a corrupted M_k:
      "moved"  (u < 1/2):        M_k shifted by up to MAX_SHIFT of the frame and grown or shrunk
                                 by up to MAX_MORPH of the frame (max / min pooling);
      "random" (1/2 <= u < 3/4): the method's random seed (initial_mask.random_blob_masks);
      "empty"  (u >= 3/4):       zeros;
    loss L_A = mean over anchors of phi(M_k, M^_k), M^_k the mask G infers from (I_n, M~[, I_k]).

The correction (mask_refine) thus learns what the lesion looks like from every key mask at
every step, and to pull a drifted or lost mask back onto it: what a long chain through large
motion needs (issue J, docs/real-data.md). `anchor_prob` is the chance that a clip with a key
frame gets an anchor at a step; L_A is added to the training loss with weight lambda_m2.

Draws come from initial_mask.walk_generator on their own stream (ANCHOR_STREAM), so a resumed or
distributed run draws the same anchors for the same global clip and step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from stillmotion_trainer.losses.phi import phi
from stillmotion_trainer.models.warp import warp
from stillmotion_trainer.training.initial_mask import random_blob_mask, walk_generator

ANCHOR_STREAM = 6  # walk_generator stream (0-1 walks, 2 key draws, 3-4 reseed)
MAX_SHIFT = 0.1  # largest shift of a "moved" seed, as a fraction of the frame's height / width
MAX_MORPH = 0.03  # largest growth / shrinkage radius, as a fraction of the frame's shorter side


@dataclass(frozen=True)
class Anchors:
    """A anchor transitions of a batch: clip `clip[a]`, from frame `src[a]` onto key `key[a]`."""

    clip: torch.Tensor  # (A,) long, local clip index
    src: torch.Tensor  # (A,) long, the neighbour frame n fed as I_t
    key: torch.Tensor  # (A,) long, the key frame k (the target)
    seeds: torch.Tensor  # (A, 1, H, W) corrupted key masks, the mask input

    @property
    def count(self) -> int:
        return int(self.clip.shape[0])


def corrupt_key_mask(mask: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A "moved" seed: mask (1, H, W) shifted by up to MAX_SHIFT and grown or shrunk by up to
    MAX_MORPH (module docstring); zeros enter at the borders."""
    h, w = mask.shape[-2:]
    u = torch.rand(3, generator=g)
    shift = (u[:2] * 2 - 1) * MAX_SHIFT * torch.tensor([w, h], dtype=torch.float32)  # (dx, dy)
    flow = shift.view(1, 2, 1, 1).expand(1, 2, h, w).to(mask)
    moved = warp(mask[None], flow)  # (1, 1, H, W)
    radius = round(float(u[2] * 2 - 1) * MAX_MORPH * min(h, w))
    if radius > 0:  # grow: max over a (2r+1)^2 window
        moved = F.max_pool2d(moved, 2 * radius + 1, stride=1, padding=radius)
    elif radius < 0:  # shrink: min over the window
        r = -radius
        moved = -F.max_pool2d(-moved, 2 * r + 1, stride=1, padding=r)
    return (moved[0] >= 0.5).to(mask.dtype)  # (1, H, W), binary like a key mask


def plan_anchors(
    prob: float,
    key_masks: torch.Tensor,  # (B, T, 1, H, W)
    is_key: torch.Tensor,  # (B, T) bool
    *,
    seed: int,
    purpose: int,
    step: int,
    global_clip_ids: Sequence[int],
) -> Optional[Anchors]:
    """The anchor transitions of a batch, or None when no clip draws one."""
    if prob <= 0:
        return None
    b, t = is_key.shape
    if t < 2:
        return None
    h, w = key_masks.shape[-2:]
    rows: list[tuple[int, int, int, torch.Tensor]] = []
    for i in range(b):
        keys = torch.nonzero(is_key[i]).flatten().tolist()
        if not keys:
            continue
        g = walk_generator(seed, purpose, step, global_clip_ids[i], ANCHOR_STREAM)
        u = torch.rand(4, generator=g).tolist()  # take, key, neighbour, corruption
        if u[0] >= prob:
            continue
        k = keys[min(int(u[1] * len(keys)), len(keys) - 1)]
        n = k - 1 if (u[2] < 0.5 and k > 0) or k == t - 1 else k + 1
        key_mask = key_masks[i, k].detach().cpu().float()  # (1, H, W)
        if u[3] < 0.5:
            seed_mask = corrupt_key_mask(key_mask, g)
        elif u[3] < 0.75:
            seed_mask = random_blob_mask(h, w, g)
        else:
            seed_mask = torch.zeros_like(key_mask)
        rows.append((i, n, k, seed_mask))
    if not rows:
        return None
    device = key_masks.device
    return Anchors(
        clip=torch.tensor([r[0] for r in rows], dtype=torch.long),
        src=torch.tensor([r[1] for r in rows], dtype=torch.long),
        key=torch.tensor([r[2] for r in rows], dtype=torch.long),
        seeds=torch.stack([r[3] for r in rows]).to(device, key_masks.dtype),
    )


def anchor_loss(
    model: torch.nn.Module,
    frames: torch.Tensor,  # (B, T, C, H, W)
    key_masks: torch.Tensor,  # (B, T, 1, H, W)
    anchors: Anchors,
    phi_name: str,
    autocast: Callable[[], Any],
    next_frame_input: bool,
) -> torch.Tensor:
    """L_A = mean_a phi(M_k, M^_k), one batched generator call over the anchors (scalar)."""
    dev = frames.device
    clip, src, key = anchors.clip.to(dev), anchors.src.to(dev), anchors.key.to(dev)
    image_in = frames[clip, src]  # (A, C, H, W): I_n
    image_key = frames[clip, key]  # (A, C, H, W): I_k
    with autocast():
        if next_frame_input:
            _, pred = model(image_in, anchors.seeds, image_key)
        else:
            _, pred = model(image_in, anchors.seeds)
    target = key_masks[clip, key]  # (A, 1, H, W): M_k
    return phi(phi_name, target, pred.float()).mean()
