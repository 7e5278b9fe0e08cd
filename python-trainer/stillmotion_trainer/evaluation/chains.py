"""Which frames each key frame's chain visits, and how the chains' masks are fused (Fig. 6).

The same semantics as the inference library, `propagateMasks` in
packages/inference/src/propagate.ts, so evaluation scores what users will run:

- every key frame k walks forward to the frame before the next key frame (or the last frame)
  and backward to the frame after the previous key frame (or frame 0);
- "linear" fusion (default): a frame between key frames a < t < b takes
  M_t = ((b - t) * F_a(t) + (t - a) * B_b(t)) / (b - a), the distance-weighted average of the
  forward chain from a and the backward chain from b; frames before the first (after the last)
  key frame take that key frame's backward (forward) chain alone; key frames keep their masks;
- "nearest" fusion: chains stop half-way between key frames (ties go to the earlier key frame),
  so each frame takes the chain of its nearest key frame.

Only the plan and the fusion live here; what a chain step does (the generator, the optical flow,
a copy) is the caller's, so the model and both baselines share exactly this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

FUSIONS = ("linear", "nearest")


@dataclass(frozen=True)
class Chain:
    """A walk from key frame `key` in `direction` (+1 forward, -1 backward) to frame `end`."""

    key: int
    direction: int
    end: int

    @property
    def steps(self) -> list[tuple[int, int]]:
        """(from frame, to frame) of every step, in walk order."""
        d = self.direction
        return [(t, t + d) for t in range(self.key, self.end, d)]

    @property
    def frames(self) -> list[int]:
        """Frames the chain produces a mask for (the key frame itself excluded)."""
        return [to for _, to in self.steps]


def check_keys(num_frames: int, key_indices: Sequence[int]) -> list[int]:
    """Sorted key frame indices; raise ValueError naming the problem."""
    if num_frames < 1:
        raise ValueError(f"num_frames: expected >= 1, got {num_frames}")
    if not key_indices:
        raise ValueError("key_indices: at least one key frame is needed")
    keys = sorted(int(k) for k in key_indices)
    for k in keys:
        if not 0 <= k < num_frames:
            raise ValueError(f"key_indices: {k} is outside 0..{num_frames - 1}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"key_indices: repeated key frame in {keys}")
    return keys


def plan_chains(num_frames: int, key_indices: Sequence[int], fusion: str = "linear") -> list[Chain]:
    """The chains of a video, in the order propagate.ts plans them (per key: forward, backward)."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion: unsupported value {fusion!r}. Should be one of: linear, nearest")
    keys = check_keys(num_frames, key_indices)
    chains: list[Chain] = []
    for j, k in enumerate(keys):
        prev = keys[j - 1] if j > 0 else None
        nxt = keys[j + 1] if j + 1 < len(keys) else None
        fwd_end = num_frames - 1 if nxt is None else nxt - 1
        bwd_end = 0 if prev is None else prev + 1
        if fusion == "nearest":
            if nxt is not None:
                fwd_end = (k + nxt) // 2  # ties -> the earlier key frame
            if prev is not None:
                bwd_end = (prev + k) // 2 + 1
        if fwd_end > k:
            chains.append(Chain(k, 1, fwd_end))
        if bwd_end < k:
            chains.append(Chain(k, -1, bwd_end))
    return chains


@dataclass
class FusedMasks:
    """One mask per frame and where it came from: (key frame, weight) per chain used."""

    masks: np.ndarray  # (T, 1, H, W) float32 in [0, 1]
    sources: list[list[tuple[int, float]]]


def fuse_chains(
    num_frames: int,
    key_masks: Mapping[int, np.ndarray],
    chains: Sequence[Chain],
    outputs: Sequence[Mapping[int, np.ndarray]],
) -> FusedMasks:
    """Combine chain outputs: key frames keep their masks, other frames the weighted chains.

    key_masks: {frame: (1, H, W)}; outputs[i]: {frame: (1, H, W)} produced by chains[i].
    """
    if len(chains) != len(outputs):
        raise ValueError(f"outputs: {len(outputs)} chain outputs for {len(chains)} chains")
    shape = next(iter(key_masks.values())).shape
    masks = np.zeros((num_frames, *shape), dtype=np.float32)
    sources: list[list[tuple[int, float]]] = [[] for _ in range(num_frames)]
    for k, mask in key_masks.items():
        masks[k] = mask
        sources[k] = [(k, 1.0)]
    for t in range(num_frames):
        if t in key_masks:
            continue
        reaching = [i for i, out in enumerate(outputs) if t in out]
        if not reaching:
            raise ValueError(f"frame {t}: no chain reaches it (chains: {list(chains)})")
        if len(reaching) > 2:
            raise ValueError(f"frame {t}: {len(reaching)} chains reach it; at most 2 can")
        if len(reaching) == 1:
            weights = [1.0]
        else:
            a, b = (chains[i] for i in reaching)
            span = abs(b.key - a.key)
            weights = [abs(b.key - t) / span, abs(a.key - t) / span]  # the nearer key weighs more
        fused = np.zeros(shape, dtype=np.float32)
        for i, w in zip(reaching, weights):
            fused += np.float32(w) * outputs[i][t].astype(np.float32)
        masks[t] = fused
        sources[t] = [(chains[i].key, w) for i, w in zip(reaching, weights)]
    return FusedMasks(masks=masks, sources=sources)
