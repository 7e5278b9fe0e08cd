"""models/fixed_border.py: the shared vectors (also in packages/inference/src/fixed-border.test.ts),
the border against its definition on hand-made stills, the fill against the reflection worked out
by hand, and a camera roll-out that keeps the still's surround fixed."""

import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation.generation_quality import (
    GenerationQualityError,
    composed_options,
    roll_out_composed,
)
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.camera_motion import CameraProfile, camera_field, sample_poses
from stillmotion_trainer.models.fixed_border import fill_border, find_border, through_border
from stillmotion_trainer.models.detail_sampling import sample_detailed, split_detail
from stillmotion_trainer.models.still_to_video import ComposedRollout, StillToVideoError
from stillmotion_trainer.models.warp import warp

# shared with packages/inference/src/fixed-border.test.ts: `shared_still()`'s border and, per
# pixel, the flat index of the pixel its fill reads (channel 2 encodes the index)
SHARED_BORDER = [
    [1, 1, 1, 1, 0, 0, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 1, 1, 1],
    [1, 1, 1, 0, 0, 0, 0, 1, 1],
    [1, 1, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 1, 1, 1, 1],
]
SHARED_SOURCE = [
    [42, 41, 4, 5, 4, 5, 4, 5, 40],
    [29, 32, 31, 14, 13, 14, 13, 32, 35],
    [40, 39, 22, 21, 22, 23, 24, 23, 44],
    [31, 30, 29, 30, 31, 32, 33, 34, 35],
    [40, 39, 38, 39, 40, 41, 42, 43, 44],
    [31, 30, 29, 30, 31, 32, 33, 34, 35],
    [22, 21, 38, 21, 22, 23, 24, 43, 44],
]


def shared_still() -> np.ndarray:
    """7 x 9: a black surround (corners, left column, bottom row) with a bright overlay on it
    (6, 4), a bright pixel cut off in the corner (0, 0), a dark spot inside the view (3, 4);
    channel 2 = 0.0004 x the flat index (dark stays dark: < 0.05)."""
    h, w = 7, 9
    y, x = np.mgrid[0:h, 0:w]
    g = np.where((x + y < 3) | (w - 1 - x + y < 2) | (y == h - 1) | (x == 0), 0.0, 0.6)
    g[6, 4], g[0, 0], g[3, 4] = 0.9, 0.8, 0.01
    return np.stack([g, 0.5 * g, 0.0004 * (y * w + x)]).astype(np.float32)


def test_shared_vectors():
    still = shared_still()
    border = find_border(still)
    assert border.astype(int).tolist() == SHARED_BORDER
    source = np.round(fill_border(still, border)[2] / 0.0004).astype(int)
    assert source.tolist() == SHARED_SOURCE


def framed(h: int = 40, w: int = 48, inset: int = 6) -> np.ndarray:
    """A textured view inside a black frame `inset` pixels wide, with white text on the frame."""
    rng = np.random.default_rng(0)
    still = np.zeros((3, h, w), dtype=np.float32)
    still[:, inset:-inset, inset:-inset] = 0.3 + 0.5 * rng.random((3, h - 2 * inset, w - 2 * inset))
    still[:, 1:3, 1:5] = 1.0  # "text" on the surround, not touching the view
    return still


def test_border_is_the_dark_surround_its_overlays_and_a_one_pixel_edge():
    still = framed()
    border = find_border(still)
    expected = np.ones((40, 48), dtype=bool)
    expected[7:-7, 7:-7] = False  # the view, less r = 1 pixel grown into it
    assert (border == expected).all()
    assert not find_border(still, threshold=0).any()


def test_no_border_without_a_dark_surround_and_dark_inside_stays_view():
    still = np.full((3, 20, 24), 0.5, dtype=np.float32)
    still[:, 8:12, 8:12] = 0.0  # a dark lumen that does not touch the edge
    assert not find_border(still).any()
    assert (fill_border(still, find_border(still)) == still).all()


def test_grown_by_one_pixel_per_64():
    still = framed(256, 256, 20)
    border = find_border(still)
    assert not border[24, 128] and border[23, 128] and border[20, 128]  # r = 4 at 256 px


def test_fill_reflects_the_view_about_its_edge():
    # border: the 3 rightmost columns (dark, touching the edge); view edge: column w - 4
    h, w = 6, 10
    still = np.zeros((1, h, w), dtype=np.float32)
    still[0, :, : w - 3] = 0.2 + 0.05 * np.arange(w - 3)[None]  # bright enough to be view
    border = np.zeros((h, w), dtype=bool)
    border[:, w - 4 :] = True  # as find_border would grow it: r = 1
    assert (find_border(still) == border).all()
    filled = fill_border(still, border)
    edge = w - 5  # last view column
    for x in range(w - 4, w):
        assert np.allclose(filled[0, :, x], still[0, :, 2 * edge - x])  # I(2b - p)
    assert (filled[:, :, : edge + 1] == still[:, :, : edge + 1]).all()


def test_through_border_shows_the_still_there_and_hides_the_mask():
    still = torch.rand(1, 3, 5, 6)
    image = torch.rand(1, 3, 5, 6)
    mask = torch.ones(1, 1, 5, 6)
    border = torch.zeros(5, 6, dtype=torch.bool)
    border[0] = True
    frame, m = through_border(image, mask, still, border)
    assert torch.equal(frame[..., 0, :], still[..., 0, :])
    assert torch.equal(frame[..., 1:, :], image[..., 1:, :])
    assert m[..., 0, :].sum() == 0 and m[..., 1:, :].min() == 1


def test_camera_roll_out_moves_the_filled_view_behind_the_fixed_surround():
    # the untrained warp image head has u = 0, r = 0: only the camera moves, so frame t is the
    # filled still sampled at the camera's field on the view and the still itself on the border
    warp_head = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")
    model = build_generator(generator_config("tiny", **warp_head)).eval()
    still = framed()
    h, w = still.shape[1:]
    mask = np.zeros((1, h, w), dtype=np.float32)
    mask[:, 15:25, 18:30] = 1.0
    camera = CameraProfile(shift_std=0.05, log_zoom_std=0.05, rotation_std=0.05)
    clip = roll_out_composed(model, still, mask, 4, ComposedRollout(camera=camera), seed=3)
    border = find_border(still)
    scene = torch.from_numpy(fill_border(still, border))[None]
    poses = sample_poses(camera, 5, min(h, w), np.random.default_rng(3))
    assert np.array_equal(clip.frames[0], still)
    for t in range(1, 5):
        field = camera_field(poses[t], h, w)
        moved = sample_detailed(scene, split_detail(scene, 1.0), field).clamp(0, 1)[0].numpy()
        assert np.abs(clip.frames[t] - np.where(border, still, moved)).max() < 1e-5
        carried = warp(torch.from_numpy(mask)[None], field).clamp(0, 1)[0].numpy()
        assert np.abs(clip.masks[t] - np.where(border, 0.0, carried)).max() < 1e-5
    assert clip.frames[1:, :, ~border].min() > 0.1  # tissue (0.3-0.8) entered the view, not black
    plain = ComposedRollout(camera=camera, border=0.0)  # 0: the whole still moves, frame too
    moved_all = roll_out_composed(model, still, mask, 4, plain, seed=3)
    assert not np.array_equal(moved_all.frames[4][:, border], still[:, border])


def test_border_options_are_checked():
    with pytest.raises(StillToVideoError, match="border: expected a number >= 0"):
        ComposedRollout(border=-0.1).validate()
    with pytest.raises(StillToVideoError, match="border: expected a number < 1"):
        ComposedRollout(border=1.0).validate()
    with pytest.raises(GenerationQualityError, match="border 0.1: only with a camera"):
        composed_options(True, border=0.1)
    with pytest.raises(StillToVideoError, match="border 0.1: only with a camera"):
        ComposedRollout(border=0.1).validate()
