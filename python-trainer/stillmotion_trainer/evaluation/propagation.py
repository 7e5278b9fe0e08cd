"""Fig. 6 with a torch generator: key-frame masks -> a mask on every frame; next-frame images.

Propagation (METHOD.md, Inference, Fig. 6): a chain starts at a key frame with its mask; each
step feeds the real frame I_t and the previously inferred mask M^_t, and keeps only the mask of
G(I_t, M^_t) as M^_{t +- 1}; predicted images are discarded. Chains and their fusion are
`chains.plan_chains` / `chains.fuse_chains`, the semantics of the inference library's
`propagateMasks`. Independent chains advance in lock-step, one batched generator call per step.

A generator whose config has ``next_frame_input`` also receives the real frame the step moves
to (the frame after I_t in the walk's direction): G(I_t, M^_t, I_{t +- 1}).

`reference` is what each step carries the mask from (METHOD.md leaves open how key frames
combine in propagation; docs/evaluation.md, "Reference"):
- "previous" (Fig. 6 as written): the previous frame and the mask inferred for it,
  M^_{t+1} = G(I_t, M^_t, I_{t+1}); errors of every step add up along the chain;
- "key": the chain's key frame and its annotated mask, M^_t = G(I_k, M_k, I_t), for a generator
  that sees the target frame (next_frame_input): no error accumulates and the steps of a chain
  are independent, but the motion between I_k and I_t must stay within the matcher's reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import torch
from torch import nn

from stillmotion_trainer.evaluation.chains import Chain, FusedMasks, fuse_chains, plan_chains
from stillmotion_trainer.models.work_scale import bilinear_up, box_down, check_downsample
from stillmotion_trainer.models.factory import takes_next_frame

REFERENCES = ("previous", "key")


def generator_step(
    generator: nn.Module,
    images: torch.Tensor,
    masks: torch.Tensor,
    next_images: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batched application of G: (B,C,H,W), (B,1,H,W) [, (B,C,H,W)] -> (image, mask)."""
    if takes_next_frame(generator):
        if next_images is None:
            raise ValueError("next_images: this generator has next_frame_input and needs them")
        return generator(images, masks, next_images)
    return generator(images, masks)


@dataclass
class PropagationResult:
    masks: np.ndarray  # (T, 1, H, W) float32 in [0, 1], soft
    sources: list[list[tuple[int, float]]]  # per frame: (key frame, weight) of each chain used
    steps: int  # generator applications (frames x chains)


@torch.no_grad()
def propagate_masks(
    generator: nn.Module,
    frames: torch.Tensor,
    key_masks: Mapping[int, torch.Tensor],
    fusion: str = "linear",
    max_batch: int = 8,
    reference: str = "previous",
    downsample: int = 1,
) -> PropagationResult:
    """Masks for every frame of one video, propagated from `key_masks` by `generator`.

    frames: (T, C, H, W) in [0, 1]; key_masks: {frame index: (1, H, W) in [0, 1]};
    reference: "previous" or "key" (module docstring); downsample f: the model runs on frames
    and key masks box-averaged f times smaller per side, its masks come back bilinear at
    (H, W) (models/work_scale.py); key frames keep their own masks.
    """
    if reference not in REFERENCES:
        raise ValueError(
            f"reference: unsupported value {reference!r}. Should be one of: "
            + ", ".join(REFERENCES)
        )
    if reference == "key" and not takes_next_frame(generator):
        raise ValueError(
            "reference: 'key' needs a generator that sees the frame it moves to "
            "(next_frame_input); G(I_t, M_t) can only step from the previous frame"
        )
    if frames.dim() != 4:
        raise ValueError(f"frames: expected (T, C, H, W), got {tuple(frames.shape)}")
    if max_batch < 1:
        raise ValueError(f"max_batch: expected an integer >= 1, got {max_batch}")
    num_frames = frames.shape[0]
    chains = plan_chains(num_frames, list(key_masks), fusion)
    for k, m in key_masks.items():
        if tuple(m.shape) != (1, *frames.shape[2:]):
            raise ValueError(
                f"key_masks[{k}]: expected shape {(1, *frames.shape[2:])}, got {tuple(m.shape)}"
            )
    if downsample != 1:
        check_downsample(downsample, frames.shape[-2], frames.shape[-1])
        small = propagate_masks(
            generator,
            box_down(frames, downsample),
            {k: box_down(m[None].to(frames.dtype), downsample)[0] for k, m in key_masks.items()},
            fusion,
            max_batch,
            reference,
        )
        masks = bilinear_up(torch.from_numpy(small.masks), downsample).numpy()  # (T, 1, H, W)
        for k, m in key_masks.items():
            masks[k] = m.to(torch.float32).cpu().numpy()
        return PropagationResult(masks=masks, sources=small.sources, steps=small.steps)
    # 1. Every chain's masks: (chain, from frame, to frame, input mask) batched through G.
    if reference == "previous":
        outputs, steps = _walk_chains(generator, frames, key_masks, chains, max_batch)
    else:
        outputs, steps = _from_keys(generator, frames, key_masks, chains, max_batch)
    # 2. Fuse: key frames keep their masks, other frames combine the chains that reached them.
    keys_np = {k: m.to(torch.float32).cpu().numpy() for k, m in key_masks.items()}
    fused: FusedMasks = fuse_chains(num_frames, keys_np, chains, outputs)
    return PropagationResult(masks=fused.masks, sources=fused.sources, steps=steps)


def _walk_chains(
    generator: nn.Module,
    frames: torch.Tensor,
    key_masks: Mapping[int, torch.Tensor],
    chains: list[Chain],
    max_batch: int,
) -> tuple[list[dict[int, np.ndarray]], int]:
    """reference "previous": the chains advance in lock-step, up to max_batch of them per
    generator call, each step feeding the mask the chain inferred one step before."""
    pending = [list(c.steps) for c in chains]  # steps each chain still has to take
    current = [key_masks[c.key].to(frames.dtype) for c in chains]  # (1, H, W) each
    outputs: list[dict[int, np.ndarray]] = [{} for _ in chains]
    steps = 0
    while True:
        active = [i for i, p in enumerate(pending) if p][:max_batch]
        if not active:
            return outputs, steps
        moves = [pending[i].pop(0) for i in active]
        images = frames[[a for a, _ in moves]]  # (B, C, H, W)
        next_images = frames[[b for _, b in moves]]  # (B, C, H, W)
        masks = torch.stack([current[i] for i in active])  # (B, 1, H, W)
        _, next_masks = generator_step(generator, images, masks, next_images)
        for j, i in enumerate(active):
            current[i] = next_masks[j]
            outputs[i][moves[j][1]] = next_masks[j].cpu().numpy()
        steps += len(active)


def _from_keys(
    generator: nn.Module,
    frames: torch.Tensor,
    key_masks: Mapping[int, torch.Tensor],
    chains: list[Chain],
    max_batch: int,
) -> tuple[list[dict[int, np.ndarray]], int]:
    """reference "key": M^_t = G(I_k, M_k, I_t) for every frame t of key k's chain; the steps
    are independent, so they are batched max_batch at a time whatever chain they belong to."""
    work = [(i, c.key, t) for i, c in enumerate(chains) for t in c.frames]
    outputs: list[dict[int, np.ndarray]] = [{} for _ in chains]
    for start in range(0, len(work), max_batch):
        batch = work[start : start + max_batch]
        images = frames[[k for _, k, _ in batch]]  # (B, C, H, W): the key frames
        targets = frames[[t for _, _, t in batch]]  # (B, C, H, W): the frames to mask
        masks = torch.stack([key_masks[k].to(frames.dtype) for _, k, _ in batch])
        _, out = generator_step(generator, images, masks, targets)
        for j, (i, _, t) in enumerate(batch):
            outputs[i][t] = out[j].cpu().numpy()
    return outputs, len(work)


@torch.no_grad()
def predict_next_frames(
    generator: nn.Module, frames: torch.Tensor, masks: torch.Tensor, max_batch: int = 8
) -> torch.Tensor:
    """I^_{t+1} = G(I_t, M^_t).image for t = 0..T-2, batched: (T,C,H,W), (T,1,H,W) -> (T-1,C,H,W).

    `masks` are the propagated masks, so the image branch sees the mask it sees in Fig. 6. A
    next_frame_input generator also gets I_{t+1} (its image branch must not use it).
    """
    if frames.shape[0] < 2:
        raise ValueError(f"frames: need at least 2 frames, got {frames.shape[0]}")
    out = []
    for start in range(0, frames.shape[0] - 1, max_batch):
        stop = min(start + max_batch, frames.shape[0] - 1)
        image, _ = generator_step(
            generator, frames[start:stop], masks[start:stop], frames[start + 1 : stop + 1]
        )
        out.append(image)
    return torch.cat(out)  # (T-1, C, H, W)
