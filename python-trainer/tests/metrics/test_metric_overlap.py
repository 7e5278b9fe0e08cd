"""Dice, IoU, PSNR, SSIM against independent numpy computations, with the empty/identical rules."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from stillmotion_trainer.losses import LossInputError
from stillmotion_trainer.metrics import PSNR_CAP_DB, dice, iou, psnr, ssim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "losses"))
import numpy_reference as ref  # noqa: E402


def _pixel_sets(p: np.ndarray, t: np.ndarray) -> tuple[set, set]:
    return set(zip(*np.nonzero(p >= 0.5))), set(zip(*np.nonzero(t >= 0.5)))


@pytest.mark.parametrize("shape", [(3, 5), (1, 7, 9), (16, 16), (1, 1)])
def test_dice_and_iou_match_set_arithmetic(shape: tuple) -> None:
    rng = np.random.default_rng(sum(shape))
    p, t = rng.random(shape), rng.random(shape)
    sp, st = _pixel_sets(p, t)
    if sp or st:
        assert dice(p, t) == pytest.approx(2 * len(sp & st) / (len(sp) + len(st)), abs=1e-15)
        assert iou(p, t) == pytest.approx(len(sp & st) / len(sp | st), abs=1e-15)


def test_empty_and_full_masks() -> None:
    empty, full = np.zeros((3, 5)), np.ones((3, 5))
    assert dice(empty, empty) == 1.0 and iou(empty, empty) == 1.0
    assert dice(empty, full) == 0.0 and iou(full, empty) == 0.0
    assert dice(full, full) == 1.0 and iou(full, full) == 1.0


def test_binarisation_threshold_is_inclusive_at_half() -> None:
    assert iou(np.full((2, 2), 0.5), np.ones((2, 2))) == 1.0
    assert iou(np.full((2, 2), 0.4999), np.ones((2, 2))) == 0.0
    assert dice(np.array([[True, False]]), np.array([[True, True]])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("shape", [(3, 5), (3, 7, 9), (1, 4, 4)])
def test_psnr_matches_formula(shape: tuple) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.random(shape), rng.random(shape)
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / np.mean((a - b) ** 2)), rel=1e-12)


def test_psnr_of_identical_images_is_the_cap() -> None:
    x = np.random.default_rng(4).random((3, 8, 8))
    assert psnr(x, x.copy()) == PSNR_CAP_DB == 100.0
    y = x.copy()
    y[0, 0, 0] = min(1.0, y[0, 0, 0] + 1e-9)
    assert psnr(x, y) <= PSNR_CAP_DB


@pytest.mark.parametrize("shape", [(3, 5), (3, 7, 9), (1, 12, 10)])
def test_ssim_matches_numpy_reference(shape: tuple) -> None:
    rng = np.random.default_rng(5)
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.3, shape), 0, 1)
    a4 = a.reshape((1,) * (4 - a.ndim) + a.shape)
    b4 = b.reshape(a4.shape)
    assert ssim(a, b) == pytest.approx(float(ref.ssim_mean(a4, b4)[0]), rel=1e-10, abs=1e-12)
    assert ssim(a, a) == 1.0


def test_ssim_is_not_clamped() -> None:
    x = np.random.default_rng(6).random((8, 8))
    assert ssim(x, 1 - x) < 0


def test_metrics_name_bad_inputs() -> None:
    with pytest.raises(LossInputError, match=r"^target: shape \(3, 4\) does not match pred"):
        dice(np.zeros((3, 5)), np.zeros((3, 4)))
    with pytest.raises(LossInputError, match="^pred: contains NaN"):
        iou(np.full((2, 2), np.nan), np.zeros((2, 2)))
    with pytest.raises(LossInputError, match=r"^b: values must lie in \[0, 1\]"):
        psnr(np.zeros((2, 2)), np.full((2, 2), 255.0))
    with pytest.raises(LossInputError, match=r"^a: expected shape \(H, W\) or \(C, H, W\)"):
        ssim(np.zeros(4), np.zeros(4))
    with pytest.raises(LossInputError, match="^a: expected a numpy array"):
        psnr([[0.0]], np.zeros((1, 1)))  # type: ignore[arg-type]
