"""models/scene_incompressible.py: the scene's step less its divergence. The projection against
numpy's pseudo-inverse of the divergence, a gradient removed whole, a swirl kept, a disk that
keeps its area where a swelling step grows it, vectors shared with
packages/inference/src/scene-incompressible.test.ts (the same numbers there), and the roll-out
that uses it by default with a camera."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation import generation_quality as gq
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models import still_to_video as s2v
from stillmotion_trainer.models.camera_motion import CameraProfile
from stillmotion_trainer.models.scene_incompressible import (
    dct_basis,
    divergence,
    divergence_free,
    divergence_free_part,
)
from stillmotion_trainer.models.scene_nonrigid import without_similarity
from stillmotion_trainer.models.warp import warp

# shared with scene-incompressible.test.ts: a 3x4 step (dx then dy, rows of 4) and its
# divergence-free part, sources clamped into the frame where they would leave it
SHARED_U = [
    [[0.25, -0.125, 0.5, 0.0], [0.375, 0.25, -0.25, 0.125], [0.75, 0.0, 0.125, -0.5]],
    [[0.0, 0.125, -0.25, 0.5], [-0.125, 0.25, 0.375, 0.0], [0.25, -0.5, 0.0, 0.125]],
]
SHARED_V = [
    [[0.0, -0.1001553, 0.3263975, 0.0], [0.0293478, 0.1467391, -0.4206522, 0.0],
     [0.0, -0.0465839, 0.0942547, -0.5]],
    [[0.0236025, 0.0765528, 0.0, 0.3263975], [-0.0057453, -0.0408385, 0.1408385, -0.0942547],
     [0.0, -0.5, 0.0, 0.0]],
]  # fmt: skip
WARP = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")


def _divergence_matrix(h: int, w: int) -> np.ndarray:
    """D of the module docstring as a dense (H W, 2 H W) matrix, written from its definition."""
    n = h * w
    d = np.zeros((n, 2 * n))
    for i in range(h):
        for j in range(w):
            row = i * w + j
            if j < w - 1:
                d[row, row] += 1
            if j > 0:
                d[row, row - 1] -= 1
            if i < h - 1:
                d[row, n + row] += 1
            if i > 0:
                d[row, n + row - w] -= 1
    return d


def test_shared_vectors():
    u = torch.tensor(SHARED_U)[None]
    assert np.allclose(divergence_free(u)[0].numpy(), SHARED_V, atol=1e-6)


def test_the_basis_is_orthonormal_and_diagonalises_the_neumann_laplacian():
    n = 7
    c = dct_basis(n).numpy()
    assert np.allclose(c @ c.T, np.eye(n), atol=1e-12)
    d = _divergence_matrix(1, n)[:, :n]  # one row of pixels: the x part
    lap = -d @ d.T  # L = D G with G = -D^T
    want = -4 * np.sin(np.pi * np.arange(n) / (2 * n)) ** 2
    assert np.allclose(c @ lap @ c.T, np.diag(want), atol=1e-12)


def test_the_projection_is_numpys_pseudo_inverse():
    h, w = 7, 10
    rng = np.random.default_rng(4)
    u = rng.normal(0, 0.3, (1, 2, h, w))
    d = _divergence_matrix(h, w)
    flat = u.reshape(-1)
    want = flat - np.linalg.pinv(d) @ (d @ flat)  # orthogonal projection onto D w = 0
    got = divergence_free_part(torch.from_numpy(u))
    assert np.allclose(got.numpy().reshape(-1), want, atol=1e-9)
    assert np.abs(divergence(got).numpy()).max() < 1e-9
    assert np.abs(d @ flat).max() > 0.1  # the step had divergence to lose


def test_a_gradient_goes_and_a_swirl_stays():
    h, w = 14, 18
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    bump = np.exp(-((xs - 8.5) ** 2 + (ys - 6.5) ** 2) / 4.0)  # ~0 at the walls
    # G bump (forward differences), and a stream function's discrete curl: D of it is 0
    swell = np.stack([np.diff(bump, axis=1, append=0), np.diff(bump, axis=0, append=0)])
    swirl = np.stack([-np.diff(bump, axis=0, prepend=0), np.diff(bump, axis=1, prepend=0)])
    assert np.abs(divergence(torch.from_numpy(swirl[None])).numpy()).max() < 1e-4
    gone = divergence_free_part(torch.from_numpy(swell[None]))
    kept = divergence_free_part(torch.from_numpy((swell + swirl)[None]))
    assert np.abs(gone.numpy()).max() < 1e-4 < np.abs(swell).max() * 1e-2
    assert np.allclose(kept[0].numpy(), swirl, atol=1e-4)


def test_a_swelling_step_grows_a_disk_and_its_divergence_free_part_does_not():
    h = w = 48
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    disk = torch.from_numpy(((xs - 23.5) ** 2 + (ys - 23.5) ** 2 <= 8.0**2).astype(np.float32))
    # sources pulled towards the centre: the disk swells by ~3 % a step, with a swirl on top
    r2 = ((xs - 23.5) ** 2 + (ys - 23.5) ** 2) / 200.0
    fall = np.exp(-r2)
    swell = np.stack([-(xs - 23.5) * 0.03 * fall, -(ys - 23.5) * 0.03 * fall])
    swirl = np.stack([-(ys - 23.5) * 0.05 * fall, (xs - 23.5) * 0.05 * fall])
    u = torch.from_numpy(swell + swirl)[None].float()
    grown, kept = disk[None, None], disk[None, None]
    for _ in range(10):
        grown = warp(grown, u)
        kept = warp(kept, divergence_free(u))
    area = float(disk.sum())
    assert float((grown >= 0.5).sum()) / area > 1.4
    assert abs(float((kept >= 0.5).sum()) / area - 1) < 0.05
    assert not torch.allclose(kept, disk[None, None], atol=0.1)  # it still moved (the swirl)


@torch.no_grad()
def test_with_a_camera_the_roll_out_keeps_the_divergence_free_scene_by_default():
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny", **WARP)).eval()
    torch.nn.init.normal_(s2v.warp_branch(model).net.head[0].weight, 0, 2.0)
    still = np.random.default_rng(0).random((3, 24, 24))
    mask = np.zeros((1, 24, 24))
    mask[:, 8:16, 8:16] = 1
    profile = CameraProfile(0.0, 0.0, 0.0)  # a camera that does not move
    rolled = {
        scene: gq.roll_out_composed(
            model, still, mask, 2,
            s2v.ComposedRollout(camera=profile, border=0.0, scene_motion=scene), seed=0,
        )
        for scene in (None, *s2v.SCENE_MOTIONS)
    }  # fmt: skip
    assert np.array_equal(rolled[None].frames, rolled["incompressible"].frames)
    plain = gq.roll_out_composed(model, still, mask, 2, s2v.ComposedRollout(), seed=0)
    assert np.allclose(rolled["whole"].frames, plain.frames, atol=1e-5)
    # each is the roll-out of the steps reduced to what the scene keeps
    reduce = {
        "nonrigid": without_similarity,
        "incompressible": lambda u: divergence_free(without_similarity(u)),
    }
    for scene, keep in reduce.items():
        state = s2v.start(*(torch.from_numpy(a).float()[None] for a in (still, mask)))
        for t in range(2):
            u, _ = s2v.warp_branch(model).motion(state.image, state.mask)
            state = s2v.composed_step(model, state, scene=scene)
            assert torch.allclose(state.step, keep(u), atol=1e-6)
            assert np.allclose(rolled[scene].frames[t + 1], state.image[0].numpy(), atol=1e-5)
    assert not np.allclose(rolled["incompressible"].frames, rolled["nonrigid"].frames, atol=1e-3)
    assert not np.allclose(rolled["nonrigid"].frames, rolled["whole"].frames, atol=1e-3)


def test_a_scene_motion_other_than_whole_needs_a_camera_and_a_known_name():
    with pytest.raises(s2v.StillToVideoError, match="scene_motion nonrigid: only with a camera"):
        s2v.ComposedRollout(scene_motion="nonrigid").validate()
    with pytest.raises(s2v.StillToVideoError, match="scene_motion: expected one of whole"):
        s2v.ComposedRollout(camera=CameraProfile(0.0, 0.0, 0.0), scene_motion="rigid").validate()
    with pytest.raises(s2v.StillToVideoError, match="scene: expected one of"):
        s2v.composed_step(torch.nn.Identity(), None, scene="rigid")  # type: ignore[arg-type]
    with pytest.raises(gq.GenerationQualityError, match="scene_motion incompressible"):
        gq.composed_options(True, scene_motion="incompressible")
    with pytest.raises(gq.GenerationQualityError, match="scene motion whole: only with compose"):
        gq.composed_options(False, scene_motion="whole")
    assert s2v.ComposedRollout().scene() == "whole"
