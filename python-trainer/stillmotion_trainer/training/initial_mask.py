"""The seed mask fed at the first transition of a walk (METHOD.md "One training step", step 1).

    random    smooth random blobs (the method says "a random mask"; StillMotion fixes the
              distribution): Gaussian noise N(0, 1) on a coarse grid of ceil(H/8) x ceil(W/8)
              cells (at least 2 x 2), bilinearly upsampled to H x W, thresholded so that a
              fraction a ~ U(0.05, 0.5) of the pixels is 1. Binary {0, 1}: one to a few
              lesion-sized blobs at random places, like the masks the model will later see.
    keyframe  the key frame's own mask at the walk's start frame (mode keyframe only).
    zeros     an empty mask.

`train.reseed_prob` p (default 0) then swaps each walk's seed, with probability p, for the
method's own random seed: a random blob mask (p/2) or an empty mask (p/2). With keyframe seeds
and cycle walks this teaches the mask branch to find the lesion from what the frames show when
its input mask is wrong or empty, the state a chain is in after the lesion left the view and
came back (docs/recipes.md, recipe next-frame-warp-cycle-reseed).

Randomness comes from a generator seeded by (run seed, purpose, step, global clip index,
direction), never from torch's global RNG, so the masks of a step are the same in a resumed run,
and the same for one process or N distributed processes sharing the global batch.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stillmotion_trainer.training.walks import Walks

KINDS = ("random", "keyframe", "zeros")
RESEED_DIRECTION = 3  # walk_generator stream of the reseed draws (0, 1: walks; 2: key draws)
BLOB_CELL = 8  # pixels per noise cell: blob size ~ a few cells
MIN_AREA, MAX_AREA = 0.05, 0.5

PURPOSE_TRAIN, PURPOSE_VAL = 0, 1


def walk_generator(
    seed: int, purpose: int, step: int, clip: int, direction: int
) -> torch.Generator:
    """A CPU generator that depends only on its arguments (SeedSequence mixes them well)."""
    state = np.random.SeedSequence([seed, purpose, step, clip, direction]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def random_blob_masks(h: int, w: int, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """One random blob mask per generator, (N, 1, H, W) in {0, 1} (module docstring).

    Each generator draws its own coarse noise, then its area; the upsampling runs batched.
    """
    gh, gw = max(2, math.ceil(h / BLOB_CELL)), max(2, math.ceil(w / BLOB_CELL))
    noise, areas = [], []
    for g in generators:
        noise.append(torch.randn(1, gh, gw, generator=g))
        areas.append(MIN_AREA + (MAX_AREA - MIN_AREA) * float(torch.rand((), generator=g)))
    smooth = F.interpolate(torch.stack(noise), size=(h, w), mode="bilinear", align_corners=False)
    flat = smooth.flatten(1)  # (N, H*W)
    # the on-th largest value of each mask (kthvalue is a selection, far cheaper than a sort)
    threshold = torch.stack(
        [
            torch.kthvalue(row, h * w - max(1, round(a * h * w)) + 1).values
            for row, a in zip(flat, areas)
        ]
    )  # (N,)
    return (smooth >= threshold.view(-1, 1, 1, 1)).to(torch.float32)


def random_blob_mask(h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """One random blob mask (1, H, W) in {0, 1}."""
    return random_blob_masks(h, w, [generator])[0]


def key_draws(seed: int, purpose: int, step: int, global_clips: Sequence[int]) -> list[float]:
    """One uniform [0, 1) draw per clip, for picking a keyframe walk's start key frame."""
    return [
        float(torch.rand((), generator=walk_generator(seed, purpose, step, c, 2)))
        for c in global_clips
    ]


def initial_masks(
    kind: str,
    walks: Walks,
    key_masks: torch.Tensor,  # (B, T, 1, H, W)
    is_key: torch.Tensor,  # (B, T) bool
    *,
    seed: int,
    purpose: int,
    step: int,
    global_clip_ids: Sequence[int],
) -> torch.Tensor:
    """Seed masks (W, 1, H, W) on key_masks' device, one per walk.

    global_clip_ids[i] is local clip i's position in the global batch (or validation set), so
    every process draws the same mask for the same clip.
    """
    h, w = key_masks.shape[-2:]
    if kind == "zeros":
        return key_masks.new_zeros((walks.count, 1, h, w))
    if kind == "keyframe":
        starts_on_key = is_key[walks.clip, walks.start]
        if not bool(starts_on_key.all()):
            bad = int(torch.nonzero(~starts_on_key)[0])
            raise ValueError(
                f'initial_mask: "keyframe" but walk {bad} starts at frame '
                f"{int(walks.start[bad])}, which has no key mask"
            )
        dev = key_masks.device
        return key_masks[walks.clip.to(dev), walks.start.to(dev)]  # (W, 1, H, W)
    if kind == "random":
        generators = [
            walk_generator(seed, purpose, step, global_clip_ids[c], d)
            for c, d in zip(walks.clip.tolist(), walks.direction.tolist())
        ]
        return random_blob_masks(h, w, generators).to(key_masks.device)
    raise ValueError(
        f'initial_mask: unsupported value "{kind}". Should be one of: {", ".join(KINDS)}'
    )


def reseed(
    seeds: torch.Tensor,  # (W, 1, H, W)
    prob: float,
    walks: Walks,
    *,
    seed: int,
    purpose: int,
    step: int,
    global_clip_ids: Sequence[int],
) -> torch.Tensor:
    """`seeds` with each walk's mask swapped, with probability `prob`, for a random blob mask
    (draw u < prob / 2) or an empty one (prob / 2 <= u < prob); u ~ U[0, 1) per walk from
    walk_generator(seed, purpose, step, clip, RESEED_DIRECTION + direction)."""
    if prob <= 0:
        return seeds
    h, w = seeds.shape[-2:]
    out = seeds.clone()
    for i, (c, d) in enumerate(zip(walks.clip.tolist(), walks.direction.tolist())):
        g = walk_generator(seed, purpose, step, global_clip_ids[c], RESEED_DIRECTION + d)
        u = float(torch.rand((), generator=g))
        if u < prob / 2:
            out[i] = random_blob_mask(h, w, g).to(out.device)
        elif u < prob:
            out[i] = 0.0
    return out
