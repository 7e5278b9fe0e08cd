"""Key-frame scoring and selection (METHOD.md "Key frames", claims 8-10).

Mirrored by packages/orchestrator/src/dataset/keyframes.ts (same names, same formulas); the TS
side drives `stillmotion keyframes`, this side picks key frames for synthetic data.

Per frame, with Y the luminance (0.299 R + 0.587 G + 0.114 B) in [0, 1]:
    sharpness  = Var(lap(Y))   over interior pixels, lap = 4-neighbour Laplacian
    exposure   = max(0, 1 - 2 |mean(Y) - 0.5|) * max(0, 1 - 10 * frac(Y >= 0.98))
    centredness = 1 - |centroid(mask) - centre| / half-diagonal   (0 for an empty mask)
    score = 0.5 * sharpness / max_video(sharpness) + 0.25 * exposure + 0.25 * centredness
without masks the last term is dropped and the weights become 2/3 and 1/3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

W_SHARP, W_EXPOSURE, W_CENTRE = 0.5, 0.25, 0.25
OVEREXPOSED = 0.98


@dataclass(frozen=True)
class FrameScore:
    index: int
    sharpness: float  # raw variance of the Laplacian
    exposure: float  # [0, 1]
    centredness: float | None  # [0, 1]; None when no mask was given
    mask_area: float | None  # fraction of pixels inside the lesion; None without a mask
    score: float = 0.0  # combined, filled by score_frames


def luminance(image: np.ndarray) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) luminance (Rec. 601 weights for C = 3)."""
    if image.shape[0] == 1:
        return image[0].astype(np.float64)
    r, g, b = image[0], image[1], image[2]
    return (0.299 * r + 0.587 * g + 0.114 * b).astype(np.float64)


def sharpness(y: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian over interior pixels; 0 for images under 3x3."""
    if y.shape[0] < 3 or y.shape[1] < 3:
        return 0.0
    lap = y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:] - 4.0 * y[1:-1, 1:-1]
    return float(lap.var())


def exposure(y: np.ndarray) -> float:
    """1 at mid-grey mean, falling to 0 at black/white means or >= 10% blown-out pixels."""
    balance = max(0.0, 1.0 - 2.0 * abs(float(y.mean()) - 0.5))
    blown = float(np.count_nonzero(y >= OVEREXPOSED)) / y.size
    return balance * max(0.0, 1.0 - 10.0 * blown)


def centredness(mask: np.ndarray) -> float:
    """1 when the lesion's centroid is at the image centre, 0 at a corner or with no lesion."""
    m = mask.reshape(mask.shape[-2:])
    total = float(m.sum())
    if total <= 0:
        return 0.0
    h, w = m.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cy, cx = float((ys * m).sum()) / total, float((xs * m).sum()) / total
    dist = np.hypot(cy - (h - 1) / 2.0, cx - (w - 1) / 2.0)
    half_diag = np.hypot((h - 1) / 2.0, (w - 1) / 2.0) or 1.0
    return float(max(0.0, 1.0 - dist / half_diag))


def score_frames(
    images: list[np.ndarray], masks: list[np.ndarray | None] | None = None
) -> list[FrameScore]:
    """Score every frame of one video. images: (C, H, W) in [0, 1]; masks: (1, H, W) or None.

    Masks must be given for all frames or none (centredness compares frames with each other).
    """
    if masks is not None and len(masks) != len(images):
        raise ValueError(f"{len(masks)} masks for {len(images)} images")
    if masks is not None and any(m is None for m in masks):
        raise ValueError("masks must be given for every frame or for none")
    raw = []
    for i, img in enumerate(images):
        y = luminance(img)
        m = masks[i] if masks is not None else None
        raw.append(
            FrameScore(
                index=i,
                sharpness=sharpness(y),
                exposure=exposure(y),
                centredness=None if m is None else centredness(m),
                mask_area=None if m is None else float(m.mean()),
            )
        )
    top = max((r.sharpness for r in raw), default=0.0)
    out = []
    for r in raw:
        s = r.sharpness / top if top > 0 else 0.0
        if r.centredness is None:
            score = (W_SHARP * s + W_EXPOSURE * r.exposure) / (W_SHARP + W_EXPOSURE)
        else:
            score = W_SHARP * s + W_EXPOSURE * r.exposure + W_CENTRE * r.centredness
        out.append(FrameScore(r.index, r.sharpness, r.exposure, r.centredness, r.mask_area, score))
    return out


def default_min_gap(num_frames: int, k: int) -> int:
    """Spacing that greedy selection can always honour: floor(n / 2k), at least 1."""
    return max(1, num_frames // (2 * max(k, 1)))


def select_keyframes(scores: list[FrameScore], k: int, min_gap: int | None = None) -> list[int]:
    """Pick k frame indices: best score first, each at least min_gap frames from those taken.

    Frames whose mask is empty are skipped while any frame shows the lesion (a key frame must
    show what it annotates). Ties go to the earlier frame. Returns indices in ascending order.
    """
    n = len(scores)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of frames ({n}), got {k}")
    gap = default_min_gap(n, k) if min_gap is None else min_gap
    if gap < 1:
        raise ValueError(f"min_gap must be >= 1, got {gap}")
    candidates = list(scores)
    if any(s.mask_area for s in scores):
        candidates = [s for s in scores if s.mask_area is None or s.mask_area > 0]
    if len(candidates) < k:
        raise ValueError(f"only {len(candidates)} frame(s) show the lesion; cannot pick {k}")
    chosen: list[int] = []
    for s in sorted(candidates, key=lambda s: (-s.score, s.index)):
        if all(abs(s.index - c) >= gap for c in chosen):
            chosen.append(s.index)
            if len(chosen) == k:
                return sorted(chosen)
    raise ValueError(
        f"cannot pick {k} frames at least {gap} apart from {len(candidates)} candidate(s); "
        "lower k or min_gap"
    )
