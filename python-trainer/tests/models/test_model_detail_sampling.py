"""models/detail_sampling.py: the shared vectors (also in
packages/inference/src/detail-sampling.test.ts), the blur against OpenCV's Gaussian, nearest
sampling against a loop, exactness at whole-pixel maps, and the sharpness it keeps where bicubic
loses it; the option in composed roll-outs."""

import cv2
import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation.generation_quality import (
    GenerationQualityError,
    composed_options,
    laplacian_variance,
)
from stillmotion_trainer.models import still_to_video as s2v
from stillmotion_trainer.models.detail_sampling import (
    DEFAULT_DETAIL,
    blur,
    sample_detailed,
    sample_nearest,
    split_detail,
)
from stillmotion_trainer.models.image_warp import sample_image

# shared with packages/inference/src/detail-sampling.test.ts: `shared_inputs()`'s base
# (G_1 * image) and sample_detailed(image, detail, field), 5 decimals
SHARED_BASE = [
    [0.52898, 0.56883, 0.58302, 0.58085, 0.57939, 0.56132],
    [0.53916, 0.56971, 0.57533, 0.55138, 0.54457, 0.53949],
    [0.53848, 0.54047, 0.53355, 0.49987, 0.46502, 0.45480],
    [0.54014, 0.50978, 0.46626, 0.44843, 0.41257, 0.38290],
    [0.54062, 0.50218, 0.43382, 0.41890, 0.40234, 0.37267],
]
SHARED_SAMPLED = [
    [0.69135, 0.30065, 1.00011, 0.60478, 0.20899, 0.19836],
    [1.00530, 0.60778, 1.00281, 0.92478, 0.51612, 0.20016],
    [0.98454, 0.91590, 0.19769, 0.89128, 0.81769, 0.47480],
    [0.20153, 0.12405, 0.81322, 0.10681, 0.03204, 0.01262],
    [0.49173, 0.09104, 0.00623, 0.41053, 0.00307, 0.30010],
]


def shared_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """A 5 x 6 one-channel image ((3y + 7x) mod 11) / 10 and a smooth field
    (0.3 sin(x + 2y) + 0.8, 0.45 cos(2x - y) - 0.6) in pixels."""
    y, x = np.mgrid[0:5, 0:6]
    image = torch.tensor(((3 * y + 7 * x) % 11) / 10.0, dtype=torch.float32)[None, None]
    fx = 0.3 * np.sin(x + 2 * y) + 0.8
    fy = 0.45 * np.cos(2 * x - y) - 0.6
    return image, torch.tensor(np.stack([fx, fy]), dtype=torch.float32)[None]


def test_shared_vectors():
    image, field = shared_inputs()
    detail = split_detail(image, 1.0)
    np.testing.assert_allclose((image - detail)[0, 0].numpy(), SHARED_BASE, atol=2e-5)
    out = sample_detailed(image, detail, field)
    np.testing.assert_allclose(out[0, 0].numpy(), SHARED_SAMPLED, atol=2e-5)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
def test_blur_is_opencvs_gaussian_with_reflected_edges(sigma):
    rng = np.random.default_rng(1)
    image = rng.random((2, 3, 11, 13)).astype(np.float32)
    r = max(1, int(np.ceil(3 * sigma)))
    for b in range(2):
        for c in range(3):
            want = cv2.GaussianBlur(
                image[b, c].astype(np.float64), (2 * r + 1, 2 * r + 1), sigma,
                borderType=cv2.BORDER_REFLECT_101,
            )  # fmt: skip
            got = blur(torch.from_numpy(image), sigma)[b, c].numpy()
            np.testing.assert_allclose(got, want, atol=1e-6)


def test_blur_of_a_frame_smaller_than_its_taps():
    # 2 x 3 with sigma 2 (taps -6..6): indices fold back and forth; a constant stays constant
    image = torch.full((1, 1, 2, 3), 0.25)
    np.testing.assert_allclose(blur(image, 2.0).numpy(), 0.25, atol=1e-7)
    single = torch.tensor([[[[0.7]]]])
    assert blur(single, 1.0).item() == pytest.approx(0.7)


def test_nearest_sampling_against_a_loop():
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.random((2, 2, 6, 7)).astype(np.float32))
    field = torch.from_numpy((rng.random((2, 2, 6, 7)) * 6 - 3).astype(np.float32))
    got = sample_nearest(x, field).numpy()
    for b in range(2):
        for py in range(6):
            for px in range(7):
                sx = min(max(int(np.floor(px + field[b, 0, py, px].item() + 0.5)), 0), 6)
                sy = min(max(int(np.floor(py + field[b, 1, py, px].item() + 0.5)), 0), 5)
                np.testing.assert_array_equal(got[b, :, py, px], x[b, :, sy, sx].numpy())


def test_whole_pixel_maps_move_the_still_exactly():
    rng = np.random.default_rng(3)
    still = torch.from_numpy(rng.random((1, 3, 12, 10)).astype(np.float32))
    field = torch.zeros(1, 2, 12, 10)
    field[:, 0], field[:, 1] = 2.0, -1.0  # out(p) = still(p + (2, -1))
    out = sample_detailed(still, split_detail(still, 1.0), field)
    np.testing.assert_allclose(out[0, :, 1:, :8].numpy(), still[0, :, :11, 2:].numpy(), atol=1e-5)


def test_sigma_zero_is_plain_bicubic():
    rng = np.random.default_rng(4)
    still = torch.from_numpy(rng.random((1, 3, 9, 9)).astype(np.float32))
    field = torch.from_numpy((rng.random((1, 2, 9, 9)) - 0.5).astype(np.float32))
    detail = split_detail(still, 0.0)
    assert not detail.any()
    torch.testing.assert_close(sample_detailed(still, detail, field), sample_image(still, field))
    assert s2v.start(still, torch.zeros(1, 1, 9, 9), 0.0).detail is None
    with pytest.raises(ValueError, match="detail: expected a number >= 0"):
        s2v.start(still, torch.zeros(1, 1, 9, 9), -1.0)
    with pytest.raises(ValueError, match="detail: expected a number >= 0"):
        split_detail(still, -1.0)


def test_half_pixel_shift_keeps_speckle_sharp():
    # white noise (the extreme of speckle) moved half a pixel: bicubic keeps well under half its
    # Laplacian variance, the detail layer moved whole keeps nearly all of it
    rng = np.random.default_rng(5)
    still = torch.from_numpy(rng.random((1, 1, 64, 64)).astype(np.float32))
    field = torch.full((1, 2, 64, 64), 0.5)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))

    def ratio(frame: torch.Tensor) -> float:
        return laplacian_variance(frame[inner][0].numpy()) / laplacian_variance(
            still[inner][0].numpy()
        )

    assert ratio(sample_image(still, field)) < 0.45
    assert ratio(sample_detailed(still, split_detail(still, DEFAULT_DETAIL), field)) > 0.85


def test_composed_roll_outs_take_the_option():
    assert s2v.ComposedRollout().detail == DEFAULT_DETAIL == 1.0
    assert composed_options(True, detail=0.5).detail == 0.5
    with pytest.raises(GenerationQualityError, match="detail: expected a number >= 0"):
        composed_options(True, detail=-0.1)
    with pytest.raises(GenerationQualityError, match="only with compose"):
        composed_options(False, detail=0.5)
    # the state carries the still's detail through every step and view
    still, mask = torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8)
    state = s2v.start(still, mask)
    assert state.detail is not None
    moved = s2v.compose(state, torch.full((1, 2, 8, 8), 0.3), torch.zeros_like(still))
    assert moved.detail is state.detail
