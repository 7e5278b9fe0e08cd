"""Boundary F, temporal stability and output selection against brute-force numpy versions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from stillmotion_trainer.losses import LossInputError
from stillmotion_trainer.metrics import (
    boundary_f,
    iou,
    select_by_similarity,
    select_fixed_step,
    temporal_stability,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "losses"))
import numpy_reference as ref  # noqa: E402


def _brute_boundary(mask: np.ndarray) -> list[tuple[int, int]]:
    h, w = mask.shape
    points = []
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            neighbours = [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)]
            if any(0 <= ny < h and 0 <= nx < w and not mask[ny, nx] for ny, nx in neighbours):
                points.append((y, x))
    return points


def _brute_boundary_f(p: np.ndarray, t: np.ndarray, tol: float) -> float:
    bp, bt = _brute_boundary(p >= 0.5), _brute_boundary(t >= 0.5)
    if not bp and not bt:
        return 1.0
    if not bp or not bt:
        return 0.0
    a, b = np.array(bp, dtype=float), np.array(bt, dtype=float)
    dist = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # (|bp|, |bt|)
    precision = float(np.mean(dist.min(1) <= tol))
    recall = float(np.mean(dist.min(0) <= tol))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _blob(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).astype(np.float64)


@pytest.mark.parametrize("tol", [0, 1, 1.5, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_boundary_f_matches_brute_force(tol: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(3, 20)), int(rng.integers(3, 20))
    p = _blob(h, w, *rng.uniform(0, min(h, w), 3))
    t = _blob(h, w, *rng.uniform(0, min(h, w), 3))
    assert boundary_f(p, t, tol) == pytest.approx(_brute_boundary_f(p, t, tol), abs=1e-15)
    noise_p, noise_t = rng.random((h, w)), rng.random((h, w))
    got = boundary_f(noise_p[None], noise_t[None], tol)
    assert got == pytest.approx(_brute_boundary_f(noise_p, noise_t, tol), abs=1e-15)


def test_boundary_f_edge_cases() -> None:
    empty, full = np.zeros((4, 6)), np.ones((4, 6))
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(full, full) == 1.0  # no boundary on either side
    assert boundary_f(empty, _blob(9, 9, 4, 4, 2)[:4, :6]) == 0.0
    shifted = _blob(20, 20, 10, 11, 5)
    assert boundary_f(_blob(20, 20, 10, 10, 5), shifted, 0) < 1.0
    assert boundary_f(_blob(20, 20, 10, 10, 5), shifted, 1) == 1.0
    with pytest.raises(LossInputError, match="^tolerance: expected a finite number >= 0"):
        boundary_f(empty, empty, -1)


def test_temporal_stability_is_mean_consecutive_iou() -> None:
    rng = np.random.default_rng(9)
    masks = rng.random((5, 1, 6, 7))
    want = np.mean([iou(masks[t], masks[t + 1]) for t in range(4)])
    assert temporal_stability(masks) == pytest.approx(want, abs=1e-15)
    assert temporal_stability(np.ones((3, 4, 4))) == 1.0
    assert temporal_stability(np.stack([np.zeros((4, 4)), np.ones((4, 4))])) == 0.0
    with pytest.raises(LossInputError, match="^masks: needs at least 2 frames"):
        temporal_stability(np.zeros((1, 4, 4)))
    with pytest.raises(LossInputError, match="^masks: expected 1 channel"):
        temporal_stability(np.zeros((3, 2, 4, 4)))


def test_select_fixed_step() -> None:
    assert select_fixed_step(10, 3) == [0, 3, 6, 9]
    assert select_fixed_step(0, 2) == []
    assert select_fixed_step(3, 5) == [0]
    with pytest.raises(LossInputError, match="^step: expected an integer >= 1, got 0"):
        select_fixed_step(4, 0)
    with pytest.raises(LossInputError, match="^n: expected an integer >= 0"):
        select_fixed_step(-1, 1)


def _brute_selection(frames: np.ndarray, mode: str, thr: float, d_name: str) -> list[int]:
    kept = [0]
    for i in range(1, len(frames)):
        d = ref.similarity(d_name, frames[kept[-1]][None], frames[i][None])[0]
        if (mode == "keep-dissimilar" and d < thr) or (mode == "keep-similar" and d >= thr):
            kept.append(i)
    return kept


@pytest.mark.parametrize("mode", ["keep-dissimilar", "keep-similar"])
@pytest.mark.parametrize("d_name", ["ssim", "1-l1", "ncc"])
def test_select_by_similarity_matches_brute_force(mode: str, d_name: str) -> None:
    rng = np.random.default_rng(10)
    base = rng.random((3, 6, 5))
    # a slowly drifting sequence with two abrupt jumps
    frames = np.stack([np.clip(base + 0.04 * i, 0, 1) for i in range(8)])
    frames[3] = rng.random((3, 6, 5))
    frames[6] = 1 - frames[6]
    thr = float(
        np.median([ref.similarity(d_name, frames[:1], frames[i : i + 1])[0] for i in range(8)])
    )
    got = select_by_similarity(frames, mode, thr, d_name)
    assert got == _brute_selection(frames, mode, thr, d_name)
    assert got[0] == 0


def test_select_by_similarity_on_identical_frames() -> None:
    frames = np.repeat(np.random.default_rng(1).random((1, 5, 5)), 4, axis=0)  # (N, H, W)
    assert select_by_similarity(frames, "keep-dissimilar", 0.9) == [0]
    assert select_by_similarity(frames, "keep-similar", 1.0) == [0, 1, 2, 3]
    with pytest.raises(LossInputError, match='^mode: unsupported value "keep-all"'):
        select_by_similarity(frames, "keep-all", 0.5)
    with pytest.raises(LossInputError, match='^d_name: unsupported value "mse"'):
        select_by_similarity(frames, "keep-similar", 0.5, "mse")
