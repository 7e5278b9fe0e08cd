"""Input modes (claim 4): the order in which a walk visits the frames of a clip.

A clip has T frames; every walk over it has exactly J = T - 1 transitions, so walks of any mode
batch together. Transition j feeds real frame `src[j]` (teacher forcing) and the mask input, and
predicts frame `dst[j]`. `seed[j]` marks transitions whose mask input is the walk's seed mask
(random / key frame / zeros) rather than the mask inferred at transition j - 1; METHOD.md's
L_M1 skips exactly those.

    forward   0 -> 1 -> ... -> T-1                                   (one seed, at j = 0)
    reverse   T-1 -> T-2 -> ... -> 0                                 (one seed, at j = 0)
    fused     both of the above for every clip: 2 walks per clip, so a batch of B clips makes
              2B walks (forward walks first, then reverse walks)
    keyframe  from a key frame k forward to T-1, then again from k backward to 0; the chain
              restarts at k with the seed mask (seed at j = 0 and j = T-1-k). k is drawn
              uniformly among the clip's key frames (clips are required to have one).
    cycle     from a key frame k out floor(J/2) frames (towards the end of the clip with more
              room) and back to k along the same frames, one chain (seed at j = 0 only); with
              J odd the last transition is k -> k. The walk ends on its key frame, so L_M2 there
              has d(I_k, I_k) = 1 and compares the round-tripped mask with M_k directly: a cycle-
              consistency term (issue I). k is drawn as for keyframe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

MODES = ("forward", "reverse", "fused", "keyframe", "cycle")
KEYED_MODES = ("keyframe", "cycle")  # walks that start at a key frame


@dataclass(frozen=True)
class Walks:
    clip: torch.Tensor  # (W,) long: the batch clip each walk runs over
    direction: torch.Tensor  # (W,) long: 0 forward / keyframe, 1 reverse (fused has both)
    start: torch.Tensor  # (W,) long: the frame the walk starts at (where its seed mask sits)
    src: torch.Tensor  # (W, J) long: frame fed as the image input at transition j
    dst: torch.Tensor  # (W, J) long: frame predicted at transition j
    seed: torch.Tensor  # (W, J) bool: mask input at j is the seed, not an inferred mask

    @property
    def count(self) -> int:
        return int(self.clip.shape[0])

    @property
    def transitions(self) -> int:
        return int(self.src.shape[1])

    def one_per_clip(self, clips: int) -> bool:
        """Walk w runs over clip w, for each of `clips` clips (forward, reverse, keyframe and
        cycle walks): per-clip data is then per-walk data as it is, without a gather."""
        return self.count == clips and torch.equal(self.clip, torch.arange(clips))


def keyframe_segments(t: int, k: int) -> tuple[list[int], list[int], list[bool]]:
    """(src, dst, seed) of a keyframe walk from key frame k in a clip of t frames."""
    src = list(range(k, t - 1)) + list(range(k, 0, -1))
    dst = list(range(k + 1, t)) + list(range(k - 1, -1, -1))
    seed = [False] * (t - 1)
    seed[0] = True
    if 0 < k < t - 1:
        seed[t - 1 - k] = True  # the backward segment restarts the chain at k
    return src, dst, seed


def cycle_segments(t: int, k: int) -> tuple[list[int], list[int], list[bool]]:
    """(src, dst, seed) of a cycle walk from key frame k in a clip of t frames."""
    out = (t - 1) // 2
    step = 1 if t - 1 - k >= k else -1  # towards the end with more room (always >= out frames)
    path = [k + step * i for i in range(out + 1)]  # k .. the turning frame
    visits = path + path[-2::-1]  # out and back: k ... turn ... k
    if len(visits) < t:  # J odd: one more transition, k -> k
        visits.append(k)
    seed = [True] + [False] * (t - 2)
    return visits[:-1], visits[1:], seed


def plan_walks(mode: str, is_key: torch.Tensor, key_draws: Sequence[float]) -> Walks:
    """The walks of a batch. is_key (B, T) bool; key_draws: one uniform [0, 1) draw per clip,
    used by the keyframe mode to pick the start key frame (ignored by the other modes)."""
    if mode not in MODES:
        raise ValueError(f'mode: unsupported value "{mode}". Should be one of: {", ".join(MODES)}')
    b, t = is_key.shape
    if t < 2:
        raise ValueError(f"clip length: a walk needs at least 2 frames, got {t}")
    fwd = list(range(t))
    rev = fwd[::-1]
    chain_seed = [True] + [False] * (t - 2)
    rows: list[tuple[int, int, int, list[int], list[int], list[bool]]] = []
    if mode in ("forward", "fused"):
        rows += [(i, 0, 0, fwd[:-1], fwd[1:], chain_seed) for i in range(b)]
    if mode in ("reverse", "fused"):
        rows += [(i, 1, t - 1, rev[:-1], rev[1:], chain_seed) for i in range(b)]
    if mode in KEYED_MODES:
        segments = keyframe_segments if mode == "keyframe" else cycle_segments
        for i in range(b):
            keys = torch.nonzero(is_key[i]).flatten().tolist()
            if not keys:
                raise ValueError(
                    f"is_key: clip {i} of the batch has no key frame; mode {mode} needs one "
                    "(data.require_key must be true)"
                )
            k = keys[min(int(key_draws[i] * len(keys)), len(keys) - 1)]
            src, dst, seed = segments(t, k)
            rows.append((i, 0, k, src, dst, seed))
    return Walks(
        clip=torch.tensor([r[0] for r in rows], dtype=torch.long),
        direction=torch.tensor([r[1] for r in rows], dtype=torch.long),
        start=torch.tensor([r[2] for r in rows], dtype=torch.long),
        src=torch.tensor([r[3] for r in rows], dtype=torch.long),
        dst=torch.tensor([r[4] for r in rows], dtype=torch.long),
        seed=torch.tensor([r[5] for r in rows], dtype=torch.bool),
    )


def gather_frames(clips: torch.Tensor, walks: Walks, index: torch.Tensor) -> torch.Tensor:
    """clips (B, T, ...) -> (W, J, ...): clip `walks.clip[w]`, frame `index[w, j]`.

    Where that is a slice of clips (forward walks: walk w on clip w, frames a..a+J-1 of every
    clip), the slice itself, a view: the same values without a copy of the batch's frames.
    """
    first = _common_run(walks, index, clips.shape[0])
    if first is not None:
        return clips[:, first : first + index.shape[1]]
    return clips[walks.clip.unsqueeze(1).to(clips.device), index.to(clips.device)]


def _common_run(walks: Walks, index: torch.Tensor, clips: int) -> Optional[int]:
    """a if walk w runs over clip w for every w < clips, and index[w] = a, a+1, ..., a+J-1 for
    every walk; else None."""
    if not walks.one_per_clip(clips):
        return None
    first, j = int(index[0, 0]), index.shape[1]
    run = torch.arange(first, first + j)
    return first if bool((index == run).all()) else None


def gather_key_frames(
    frames: torch.Tensor, key_masks: torch.Tensor, is_key: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The key frames of each clip, packed to K = max key frames per clip (at least 1).

    frames (B, T, C, H, W), key_masks (B, T, 1, H, W), is_key (B, T) ->
    key_images (B, K, C, H, W), key_masks (B, K, 1, H, W), key_valid (B, K) bool.
    """
    order, valid = key_frame_index(is_key)  # (B, K)
    rows = torch.arange(is_key.shape[0]).unsqueeze(1)
    dev = frames.device
    return (
        frames[rows.to(dev), order.to(dev)],
        key_masks[rows.to(dev), order.to(dev)],
        valid.to(dev),
    )


def key_frame_index(is_key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where gather_key_frames takes each clip's key frames from: is_key (B, T) bool ->
    order (B, K) long frame index (padding slots point at a non-key frame), valid (B, K) bool."""
    is_key = is_key.cpu()
    counts = is_key.sum(1)
    k = max(1, int(counts.max()))
    # Stable sort puts each clip's key frames first, in frame order; the rest are padding.
    order = torch.argsort((~is_key).to(torch.int8), dim=1, stable=True)[:, :k]  # (B, K)
    valid = torch.arange(k).unsqueeze(0) < counts.unsqueeze(1)  # (B, K)
    return order, valid
