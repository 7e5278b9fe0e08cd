"""The generator's pass over a batch of walks (METHOD.md Fig. 4, steps 1-2) and its losses.

`prepare_walks` moves a collated batch and its walk plan (walk_plan.py: the walks of the input
mode, their seed masks, the key frames packed; planned in the training loader's workers, or here
when the batch comes without one) to the device; `run_walks` feeds G along every walk,
autoregressively on the mask; `walk_loss` applies steps 3-6 (losses.training_loss). Training
and validation both go through these three functions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Sequence

import torch

from stillmotion_trainer.losses.similarity import pair_similarity
from stillmotion_trainer.losses.training_loss import LossConfig, training_loss
from stillmotion_trainer.models.next_frame import FrozenMotion
from stillmotion_trainer.training.config import RunConfig
from stillmotion_trainer.training.walk_plan import PLAN_KEY, PackedKeys, pack_keys, plan_batch
from stillmotion_trainer.training.walks import Walks, gather_frames


@dataclass
class WalkBatch:
    """Everything training_loss needs for one batch of walks (W walks, J transitions)."""

    frames_in: torch.Tensor  # (W, J, C, H, W)  real I_{s_j}
    frames_next: torch.Tensor  # (W, J, C, H, W)  real I_{s_{j+1}}
    mask_in: torch.Tensor  # (W, J, 1, H, W)  M^_{s_j} fed to G
    pred_images: torch.Tensor  # (W, J, C, H, W)  I^_{s_{j+1}}
    pred_masks: torch.Tensor  # (W, J, 1, H, W)  M^_{s_{j+1}}
    mask_in_inferred: torch.Tensor  # (W, J) bool
    key_images: torch.Tensor  # (W, K, C, H, W)
    key_masks: torch.Tensor  # (W, K, 1, H, W)
    key_valid: torch.Tensor  # (W, K) bool
    # where those frames come from, so that d of a pair of frames is computed once (walk_loss)
    clip_frames: torch.Tensor  # (B, T, C, H, W) the batch's real frames
    walk_clip: torch.Tensor  # (W,) long, CPU: the clip of each walk
    src: torch.Tensor  # (W, J) long, CPU: frame index of frames_in
    dst: torch.Tensor  # (W, J) long, CPU: frame index of frames_next
    key_index: torch.Tensor  # (B, K) long, CPU: frame index of each clip's key_images slot


class WalkInputs(NamedTuple):
    """A batch on the model's device with its walks planned and their seed masks drawn."""

    frames: torch.Tensor  # (B, T, C, H, W) real frames of the clips
    key_masks: torch.Tensor  # (B, T, 1, H, W) M_k where is_key, else zeros
    is_key: torch.Tensor  # (B, T) bool
    walks: Walks
    seed_masks: torch.Tensor  # (W, 1, H, W) the mask input where each walk's chain starts
    keys: PackedKeys  # each clip's key frames, packed (B, K, ...)

    @classmethod
    def of(
        cls,
        frames: torch.Tensor,
        key_masks: torch.Tensor,
        is_key: torch.Tensor,
        walks: Walks,
        seed_masks: torch.Tensor,
    ) -> WalkInputs:
        """Walk inputs with the key frames packed from `frames` here."""
        return cls(
            frames, key_masks, is_key, walks, seed_masks, pack_keys(frames, key_masks, is_key)
        )


def prepare_walks(
    cfg: RunConfig,
    batch: dict[str, Any],
    device: torch.device,
    purpose: int,
    step: int,
    global_clip_ids: Sequence[int],
) -> WalkInputs:
    """Move a collated batch and its walk plan to `device`; the plan is the loader's
    (walk_plan.PlanningCollate) when the batch has one, else drawn here (walk_plan.plan_batch).
    A loader's plan for another step or purpose is an error, never trained on."""
    plan = batch.get(PLAN_KEY)
    if plan is None:
        plan = plan_batch(cfg, batch, purpose, step, global_clip_ids)
    elif (plan.step, plan.purpose) != (step, purpose):
        raise RuntimeError(
            f"the loader planned this batch's walks for step {plan.step} (purpose "
            f"{plan.purpose}); the loop is at step {step} (purpose {purpose})"
        )
    frames = batch["frames"].to(device, non_blocking=True)  # (B, T, C, H, W)
    key_masks = batch["key_masks"].to(device, non_blocking=True)  # (B, T, 1, H, W)
    keys = plan.keys
    return WalkInputs(
        frames, key_masks, batch["is_key"].to(device), plan.walks,
        plan.seed_masks.to(device, non_blocking=True),
        PackedKeys(keys.images.to(device, non_blocking=True),
                   keys.masks.to(device, non_blocking=True), keys.valid.to(device), keys.source),
    )  # fmt: skip


def run_walks(
    model: torch.nn.Module,
    inputs: WalkInputs,  # on the model's device
    bptt_window: int,
    autocast: Callable[[], Any] = contextlib.nullcontext,
    next_frame_input: bool = False,
) -> WalkBatch:
    """The generator's pass over every walk of the batch — METHOD.md Fig. 4, steps 1-2.

    next_frame_input: the generator is G(I_t, M^_t, I_{t+1}) (models/next_frame.py), whose mask
    branch also sees the next real frame; it is given I_{s_{j+1}}.
    """
    frames, walks, seed_masks = inputs.frames, inputs.walks, inputs.seed_masks
    device = frames.device
    frames_in = gather_frames(frames, walks, walks.src)  # (W, J, C, H, W)
    frames_next = gather_frames(frames, walks, walks.dst)  # (W, J, C, H, W)
    is_seed = walks.seed.to(device)  # (W, J)
    seeds_at = walks.seed.sum(0).tolist()  # per j: how many walks (re)start there (CPU, no sync)
    mask = seed_masks  # (W, 1, H, W)
    mask_ins, pred_images, pred_masks = [], [], []
    with autocast():  # a frozen warp head: every frame's matching features once (next_frame.py)
        motion = FrozenMotion.of(model, frames) if next_frame_input else None
    clip = walks.clip.to(device)
    for j in range(walks.transitions):
        # 1. mask input: the seed where a chain (re)starts, else the mask inferred at j - 1;
        #    cut the graph every bptt_window transitions (truncated back-propagation)
        if bptt_window and j % bptt_window == 0:
            mask = mask.detach()
        if seeds_at[j] == walks.count:
            mask_in = seed_masks
        elif seeds_at[j] == 0:
            mask_in = mask
        else:  # keyframe walks restart at different transitions
            mask_in = torch.where(is_seed[:, j, None, None, None], seed_masks, mask)
        # 2. G(I_{s_j}, M^_{s_j}) -> (I^_{s_{j+1}}, M^_{s_{j+1}}); the image input is real
        with autocast():
            if motion is not None:
                flow = motion.flow(clip, walks.src[:, j].to(device), walks.dst[:, j].to(device))
                next_image, mask = model(frames_in[:, j], mask_in, frames_next[:, j], flow)
            elif next_frame_input:
                next_image, mask = model(frames_in[:, j], mask_in, frames_next[:, j])
            else:
                next_image, mask = model(frames_in[:, j], mask_in)
        next_image, mask = next_image.float(), mask.float()
        mask_ins.append(mask_in)
        pred_images.append(next_image)
        pred_masks.append(mask)
    keys = inputs.keys
    # per walk: its clip's packed key frames
    per_walk = (lambda x: x) if walks.one_per_clip(keys.source.shape[0]) else (lambda x: x[clip])
    return WalkBatch(
        frames_in=frames_in,
        frames_next=frames_next,
        mask_in=torch.stack(mask_ins, 1),
        pred_images=torch.stack(pred_images, 1),
        pred_masks=torch.stack(pred_masks, 1),
        mask_in_inferred=~is_seed,
        key_images=per_walk(keys.images),
        key_masks=per_walk(keys.masks),
        key_valid=per_walk(keys.valid),
        clip_frames=frames,
        walk_clip=walks.clip,
        src=walks.src,
        dst=walks.dst,
        key_index=keys.source,
    )


def walk_loss(
    wb: WalkBatch, loss_cfg: LossConfig, adv: Optional[torch.Tensor] = None
) -> dict[str, torch.Tensor]:
    """METHOD.md steps 3-6 on a WalkBatch (losses.training_loss), with the d terms of every
    frame pair computed once (walk_similarities)."""
    d_first, d_second = walk_similarities(wb, loss_cfg.d)
    return training_loss(
        wb.frames_in, wb.frames_next, wb.pred_images, wb.mask_in, wb.pred_masks,
        wb.mask_in_inferred, wb.key_images, wb.key_masks, wb.key_valid, loss_cfg, adv=adv,
        d_first=d_first, d_second=d_second,
    )  # fmt: skip


def walk_similarities(wb: WalkBatch, d_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """d(I_{s_j}, I_{s_{j+1}}) (W, J) for L_M1 and d(I_k, I_{s_{j+1}}) (W, J, K) for L_M2, each
    distinct pair of frames of a clip computed once.

    d depends only on the two frames, and it is symmetric, so {a, b} is one pair: a cycle walk
    visits its frames out and back, and every transition of a clip meets the same key frames;
    computed per (walk, transition, key) as written, d took 8.7 s of an 11 s step at 128 px with
    a key mask on every frame (issue L). Padding key slots (key_valid False) get 0: L_M2 masks
    them out.
    """
    b, t = wb.clip_frames.shape[:2]
    w, j = wb.src.shape
    k = wb.key_index.shape[1]
    base = (wb.walk_clip * t).unsqueeze(1)  # (W, 1) first frame of each walk's clip, flattened
    first_a, first_b = base + wb.src, base + wb.dst  # (W, J) flat frame indices
    key_flat = (wb.walk_clip * t).unsqueeze(1) + wb.key_index[wb.walk_clip]  # (W, K)
    valid = wb.key_valid.cpu().unsqueeze(1).expand(w, j, k)  # (W, J, K)
    second_a = key_flat.unsqueeze(1).expand(w, j, k)[valid]
    second_b = first_b.unsqueeze(2).expand(w, j, k)[valid]
    a = torch.cat([first_a.flatten(), second_a])
    c = torch.cat([first_b.flatten(), second_b])
    n = b * t
    pair = torch.minimum(a, c) * n + torch.maximum(a, c)  # one id per unordered pair
    unique, where = torch.unique(pair, return_inverse=True)
    d = pair_similarity(d_name, wb.clip_frames.flatten(0, 1), unique // n, unique % n)
    d = d[where.to(d.device)]
    d_first = d[: w * j].view(w, j)
    d_second = d.new_zeros(w, j, k)
    d_second[valid.to(d.device)] = d[w * j :]
    return d_first, d_second
