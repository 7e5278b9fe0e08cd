"""models/scene_nonrigid.py: the scene's step less its global similarity. The closed form against
numpy's least squares, an exact similarity removed whole, vectors shared with
packages/inference/src/scene-nonrigid.test.ts (the same numbers there), and the roll-out that
uses it by default with a camera."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation import generation_quality as gq
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models import still_to_video as s2v
from stillmotion_trainer.models.camera_motion import CameraProfile
from stillmotion_trainer.models.scene_nonrigid import similarity_fit, without_similarity

# shared with scene-nonrigid.test.ts: a 3x4 step (dx then dy, rows of 4), its fit (t_x, t_y, a, b)
# and the step less it, sources clamped into the frame where they would leave it
SHARED_U = [
    [[0.5, -0.25, 1.0, 0.0], [0.75, 0.5, -0.5, 0.25], [1.5, 0.0, 0.25, -1.0]],
    [[0.0, 0.25, -0.5, 1.0], [-0.25, 0.5, 0.75, 0.0], [0.5, -1.0, 0.0, 0.25]],
]
SHARED_FIT = [0.25, 0.125, -24 / 92, 9 / 92]
SHARED_V = [
    [[0.0, -0.728261, 0.782609, 0.0], [0.108696, 0.119565, -0.619565, 0.0],
     [0.956522, -0.282609, 0.228261, -0.76087]],
    [[0.0, 0.0, 0.0, 0.467391], [-0.228261, 0.423913, 0.576087, -0.271739],
     [0.0, -0.815217, 0.0, 0.0]],
]  # fmt: skip
WARP = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")


def _similarity(h: int, w: int, tx: float, ty: float, a: float, b: float) -> torch.Tensor:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = xs - (w - 1) / 2, ys - (h - 1) / 2
    return torch.from_numpy(np.stack([tx + a * x - b * y, ty + b * x + a * y])[None]).float()


def test_shared_vectors():
    u = torch.tensor(SHARED_U)[None]
    assert np.allclose(similarity_fit(u)[0].numpy(), SHARED_FIT, atol=1e-9)
    assert np.allclose(without_similarity(u)[0].numpy(), SHARED_V, atol=1e-6)


def test_the_fit_is_numpys_least_squares():
    h, w = 9, 14
    u = torch.from_numpy(np.random.default_rng(3).normal(0, 2, (1, 2, h, w))).float()
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (xs - (w - 1) / 2).ravel(), (ys - (h - 1) / 2).ravel()
    one, zero = np.ones_like(x), np.zeros_like(x)
    design = np.stack([np.r_[one, zero], np.r_[zero, one], np.r_[x, y], np.r_[-y, x]], axis=1)
    rhs = np.r_[u[0, 0].numpy().ravel(), u[0, 1].numpy().ravel()].astype(np.float64)
    want = np.linalg.lstsq(design, rhs, rcond=None)[0]
    assert np.allclose(similarity_fit(u)[0].numpy(), want, atol=1e-6)


def test_a_similarity_is_removed_whole_and_the_rest_is_kept():
    h, w = 12, 16
    sim = _similarity(h, w, 0.7, -0.4, 0.05, -0.03)
    assert np.allclose(similarity_fit(sim)[0].numpy(), [0.7, -0.4, 0.05, -0.03], atol=1e-6)
    assert torch.allclose(without_similarity(sim), torch.zeros_like(sim), atol=1e-5)
    raw = torch.from_numpy(np.random.default_rng(1).normal(0, 0.3, (1, 2, h, w))).float()
    rest = raw - _similarity(h, w, *similarity_fit(raw)[0].tolist())  # no similarity left in it
    ys, xs = np.mgrid[0:h, 0:w]
    want = np.stack(
        [
            np.clip(xs + rest[0, 0].numpy(), 0, w - 1) - xs,
            np.clip(ys + rest[0, 1].numpy(), 0, h - 1) - ys,
        ]
    )
    assert np.allclose(without_similarity(sim + rest)[0].numpy(), want, atol=1e-5)


@torch.no_grad()
def test_with_a_camera_the_roll_out_drops_the_scene_similarity():
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny", **WARP)).eval()
    torch.nn.init.normal_(s2v.warp_branch(model).net.head[0].weight, 0, 2.0)
    still = np.random.default_rng(0).random((3, 24, 24))
    mask = np.zeros((1, 24, 24))
    mask[:, 8:16, 8:16] = 1
    profile = CameraProfile(0.0, 0.0, 0.0)  # a camera that does not move
    opts = s2v.ComposedRollout(camera=profile, border=0.0)
    kept = s2v.ComposedRollout(camera=profile, border=0.0, keep_scene_similarity=True)
    plain = gq.roll_out_composed(model, still, mask, 2, s2v.ComposedRollout(), seed=0)
    still_camera = gq.roll_out_composed(model, still, mask, 2, kept, seed=0)
    nonrigid = gq.roll_out_composed(model, still, mask, 2, opts, seed=0)
    # keeping the similarity is the plain roll-out ...
    assert np.allclose(still_camera.frames, plain.frames, atol=1e-5)
    # ... dropping it is the roll-out of the steps less their similarity
    state = s2v.start(torch.from_numpy(still).float()[None], torch.from_numpy(mask).float()[None])
    for t in range(2):
        state = s2v.composed_step(model, state, nonrigid=True)
        assert np.allclose(nonrigid.frames[t + 1], state.image[0].numpy(), atol=1e-5)
    assert not np.allclose(nonrigid.frames, plain.frames, atol=1e-3)


def test_keeping_the_similarity_needs_a_camera():
    with pytest.raises(s2v.StillToVideoError, match="keep_scene_similarity: only with a camera"):
        s2v.ComposedRollout(keep_scene_similarity=True).validate()
    with pytest.raises(gq.GenerationQualityError, match="keep_scene_similarity"):
        gq.composed_options(True, keep_scene_similarity=True)
