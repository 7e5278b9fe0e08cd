"""models/scene_nonrigid.py: the scene's step less its global similarity. The closed form against
numpy's least squares, an exact similarity removed whole, vectors shared with
packages/inference/src/scene-nonrigid.test.ts (the same numbers there). The roll-outs that use it
are tested in test_model_scene_incompressible.py."""

from __future__ import annotations

import numpy as np
import torch

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
