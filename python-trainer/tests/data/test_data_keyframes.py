"""Key-frame scores against independent computations, and spaced selection."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stillmotion_trainer.data.keyframes import (
    FrameScore,
    centredness,
    exposure,
    luminance,
    score_frames,
    select_keyframes,
    sharpness,
)


def test_sharpness_matches_opencv_laplacian() -> None:
    y = np.random.default_rng(0).random((12, 10))
    lap = cv2.Laplacian(y, cv2.CV_64F, ksize=1)[1:-1, 1:-1]  # ksize=1: the 4-neighbour kernel
    assert sharpness(y) == pytest.approx(float(lap.var()), rel=1e-12)


def test_blur_lowers_sharpness() -> None:
    y = np.random.default_rng(1).random((16, 16))
    assert sharpness(cv2.GaussianBlur(y, (5, 5), 1.5)) < 0.2 * sharpness(y)


def test_luminance_weights() -> None:
    img = np.stack([np.full((2, 2), v) for v in (1.0, 0.0, 0.0)])
    assert luminance(img)[0, 0] == pytest.approx(0.299)


def test_exposure() -> None:
    assert exposure(np.full((4, 4), 0.5)) == pytest.approx(1.0)
    assert exposure(np.full((4, 4), 0.0)) == pytest.approx(0.0)
    glare = np.full((10, 10), 0.5)
    glare[0] = 1.0  # 10% blown out
    assert exposure(glare) == pytest.approx(0.0)


def test_centredness() -> None:
    m = np.zeros((9, 9))
    m[3:6, 3:6] = 1
    assert centredness(m) == pytest.approx(1.0)
    corner = np.zeros((9, 9))
    corner[0, 0] = 1
    assert centredness(corner) == pytest.approx(0.0)
    assert centredness(np.zeros((9, 9))) == 0.0


def test_score_prefers_sharp_centred_frames() -> None:
    rng = np.random.default_rng(2)
    sharp = rng.random((1, 16, 16)) * 0.5 + 0.25
    blurred = cv2.GaussianBlur(sharp[0], (7, 7), 2)[None]
    centre, edge = np.zeros((1, 16, 16)), np.zeros((1, 16, 16))
    centre[0, 6:10, 6:10] = 1
    edge[0, 0:3, 0:3] = 1
    scores = score_frames([blurred, sharp, sharp], [centre, centre, edge])
    assert scores[1].score > scores[0].score and scores[1].score > scores[2].score
    no_mask = score_frames([blurred, sharp])
    assert no_mask[1].score > no_mask[0].score and no_mask[0].centredness is None


def _scores(values: list[float], areas: list[float] | None = None) -> list[FrameScore]:
    return [
        FrameScore(i, 0.0, 0.0, None, None if areas is None else areas[i], v)
        for i, v in enumerate(values)
    ]


def test_selection_respects_spacing_and_skips_frames_without_lesion() -> None:
    values = [0.1, 0.9, 0.85, 0.8, 0.2, 0.3, 0.7, 0.1]
    assert select_keyframes(_scores(values), 2) == [1, 3]  # gap 8 // 4 = 2
    assert select_keyframes(_scores(values), 2, min_gap=4) == [1, 6]
    areas = [0.1, 0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert select_keyframes(_scores(values, areas), 1) == [3]
    with pytest.raises(ValueError, match="k must be"):
        select_keyframes(_scores(values), 9)
