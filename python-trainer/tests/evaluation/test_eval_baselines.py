"""The two baselines: copy-key equals a manual copy; Farneback flow follows a moving blob."""

import numpy as np
import pytest

from stillmotion_trainer.evaluation.baselines import (
    FarnebackParams,
    compose_step,
    copy_key_masks,
    flow_masks,
    to_gray_u8,
)
from stillmotion_trainer.metrics import dice

H = W = 48
RADIUS = 8


def blob_video(num_frames: int, start: tuple[float, float], step: tuple[float, float]):
    """A bright Gaussian blob on a flat background moving by `step` (dx, dy) per frame, and its
    disk masks. -> frames (T, 3, H, W), masks (T, 1, H, W)"""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    frames, masks = [], []
    for t in range(num_frames):
        cx, cy = start[0] + step[0] * t, start[1] + step[1] * t
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        frames.append(np.repeat((0.2 + 0.6 * np.exp(-d2 / (2 * 6.0**2)))[None], 3, axis=0))
        masks.append((d2 <= RADIUS**2).astype(np.float32)[None])
    return np.stack(frames).astype(np.float32), np.stack(masks)


@pytest.mark.parametrize("keys", [[0], [6], [3], [0, 6]])
def test_flow_follows_a_translating_blob(keys):
    frames, gt = blob_video(7, start=(14, 20), step=(3, 1.5))
    result = flow_masks(frames, {k: gt[k] for k in keys})
    scores = [dice(result.masks[t], gt[t]) for t in range(7) if t not in keys]
    copy = [dice(gt[keys[0]], gt[t]) for t in range(7) if t not in keys]
    assert min(scores) > 0.8, scores
    assert np.mean(scores) > np.mean(copy) + 0.3  # the blob moves 3 px a frame; copying lags


def test_flow_masks_are_zero_where_content_entered_the_view():
    # content moves left 1 px a step (each new pixel came from p + 1): the right edge is new
    map_x, map_y = np.meshgrid(np.arange(8, dtype=np.float32), np.arange(6, dtype=np.float32))
    valid = np.ones((6, 8), np.float32)
    flow = np.zeros((6, 8, 2), np.float32)
    flow[..., 0] = 1.0
    for _ in range(2):
        map_x, map_y, valid = compose_step(map_x, map_y, valid, flow)
    np.testing.assert_allclose(map_x[:, :6], np.arange(2, 8, dtype=np.float32)[None].repeat(6, 0))
    np.testing.assert_array_equal(valid[:, :6], 1.0)
    np.testing.assert_array_equal(valid[:, 6:], 0.0)


def test_copy_key_repeats_the_key_mask_and_blends_between_two_keys():
    rng = np.random.default_rng(0)
    a = (rng.random((1, 5, 7)) > 0.5).astype(np.float32)
    b = (rng.random((1, 5, 7)) > 0.5).astype(np.float32)
    single = copy_key_masks(4, {1: a})
    np.testing.assert_array_equal(single.masks, np.stack([a, a, a, a]))
    two = copy_key_masks(6, {1: a, 4: b})
    manual = [a, a, (2 * a + b) / 3, (a + 2 * b) / 3, b, b]
    np.testing.assert_allclose(two.masks, np.stack(manual), atol=1e-6)
    nearest = copy_key_masks(6, {1: a, 4: b}, fusion="nearest")
    np.testing.assert_array_equal(nearest.masks, np.stack([a, a, a, b, b, b]))


def test_gray_conversion_uses_luma_for_rgb_and_passes_grey_through():
    rgb = np.zeros((3, 2, 2), np.float32)
    rgb[1] = 1.0  # pure green: luma 0.587
    assert to_gray_u8(rgb)[0, 0] == round(0.587 * 255)
    grey = np.full((1, 2, 2), 0.5, np.float32)
    assert to_gray_u8(grey)[0, 0] == 128
    with pytest.raises(ValueError, match="frame: expected"):
        to_gray_u8(np.zeros((2, 2, 2), np.float32))


def test_farneback_parameters_are_reported_as_a_plain_dict():
    assert FarnebackParams().as_dict() == {
        "pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
        "poly_sigma": 1.2, "flags": 0,
    }  # fmt: skip
