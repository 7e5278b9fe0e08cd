"""models/motion_scale.py: the image branch's motion at its training scale. The formulas against
loops over their definitions, vectors shared with packages/inference/src/motion-scale.test.ts
(the same numbers there), the factor from a run config, and a composed roll-out that uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation import generation_quality as gq
from stillmotion_trainer.models import still_to_video as s2v
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.motion_scale import (
    down_for_motion,
    motion_at_scale,
    motion_downsample,
    training_size,
    up_from_motion,
)
from stillmotion_trainer.models.next_frame import NextFrameGenerator

WARP = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")

# shared with motion-scale.test.ts: a 3x5 ramp down by 2 (last row and column repeated), and a
# 2x2 step (u, r) up by 2 to 3x4 (row 0's dy = -1 clamped to 0: sources stay in the frame)
SHARED_DOWN_IN = np.arange(15, dtype=np.float32).reshape(3, 5)
SHARED_DOWN_OUT = [[3.0, 5.0, 6.5], [10.5, 12.5, 14.0]]
SHARED_U_IN = [[[0.5, -1.0], [2.0, 0.25]], [[-0.5, 1.5], [0.0, -2.0]]]
SHARED_R_IN = [[[0.1, -0.1], [0.3, 0.0]]]
SHARED_U_OUT = [
    [[1.0, 0.25, -1.25, -2.0], [1.75, 0.96875, -0.59375, -1.375], [3.0, 2.0, 0.71875, -0.125]],
    [[0.0, 0.0, 2.0, 2.0], [-0.75, -0.25, 0.75, 1.0], [-0.25, -0.75, -1.75, -2.0]],
]
SHARED_R_OUT = [
    [[0.05, 0.0, -0.1, -0.15], [0.1, 0.04375, -0.06875, -0.125], [0.2, 0.13125, -0.00625, -0.075]]
]


def _down_loop(x: np.ndarray, f: int) -> np.ndarray:
    """box_f(pad_f(x)) by its definition: block means, indices past the edge read the edge."""
    h, w = x.shape
    out = np.zeros((math.ceil(h / f), math.ceil(w / f)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            block = [
                x[min(f * i + a, h - 1), min(f * j + b, w - 1)] for a in range(f) for b in range(f)
            ]
            out[i, j] = np.mean(block)
    return out


def _up_loop(x: np.ndarray, f: int, h: int, w: int) -> np.ndarray:
    """Bilinear up by f with half-pixel centres, cropped to (h, w)."""

    def source(i: int, n: int) -> tuple[int, int, float]:
        s = max((i + 0.5) / f - 0.5, 0.0)
        i0 = math.floor(s)
        return i0, min(i0 + 1, n - 1), s - i0

    out = np.zeros((h, w))
    for i in range(h):
        r0, r1, a = source(i, x.shape[0])
        for j in range(w):
            c0, c1, b = source(j, x.shape[1])
            top = (1 - b) * x[r0, c0] + b * x[r0, c1]
            out[i, j] = (1 - a) * top + a * ((1 - b) * x[r1, c0] + b * x[r1, c1])
    return out


def _up_from_motion_loop(u: np.ndarray, r: np.ndarray, f: int, h: int, w: int):
    ux, uy = f * _up_loop(u[0], f, h, w), f * _up_loop(u[1], f, h, w)
    for i in range(h):
        for j in range(w):
            ux[i, j] = min(max(j + ux[i, j], 0), w - 1) - j
            uy[i, j] = min(max(i + uy[i, j], 0), h - 1) - i
    rr = np.stack([_up_loop(c, f, h, w) for c in r])
    return np.stack([ux, uy]), rr - rr.mean(axis=(1, 2), keepdims=True)


def test_shared_vectors():
    down = down_for_motion(torch.from_numpy(SHARED_DOWN_IN)[None, None], 2)[0, 0]
    assert down.tolist() == SHARED_DOWN_OUT
    u, r = up_from_motion(torch.tensor(SHARED_U_IN)[None], torch.tensor(SHARED_R_IN)[None], 2, 3, 4)
    assert np.allclose(u[0].numpy(), SHARED_U_OUT, atol=1e-6)
    assert np.allclose(r[0].numpy(), SHARED_R_OUT, atol=1e-6)


@pytest.mark.parametrize("f, h, w", [(2, 7, 10), (3, 9, 7), (2, 8, 8)])
def test_formulas_equal_loops_over_their_definitions(f, h, w):
    rng = np.random.default_rng(f * h * w)
    x = rng.random((h, w)).astype(np.float32)
    down = down_for_motion(torch.from_numpy(x)[None, None], f)[0, 0].numpy()
    assert np.allclose(down, _down_loop(x, f), atol=1e-6)
    small = down.shape
    u = rng.normal(0, 2, (2, *small)).astype(np.float32)
    r = rng.normal(0, 0.05, (3, *small)).astype(np.float32)
    got_u, got_r = up_from_motion(torch.from_numpy(u)[None], torch.from_numpy(r)[None], f, h, w)
    want_u, want_r = _up_from_motion_loop(u, r, f, h, w)
    assert np.allclose(got_u[0].numpy(), want_u, atol=1e-5)
    assert np.allclose(got_r[0].numpy(), want_r, atol=1e-6)


def test_the_factor():
    assert motion_downsample(64, 128, 128) == 2
    assert motion_downsample(64, 102, 128) == 2  # the longer side, as generate sizes stills
    assert motion_downsample(64, 127, 100) == 1  # floor: never smaller than the training frames
    assert motion_downsample(40, 128, 128) == 3
    assert motion_downsample(128, 128, 128) == 1
    assert motion_downsample(256, 128, 128) == 1  # a frame smaller than training: not upsampled
    assert motion_downsample(None, 512, 512) == 1
    for bad in (0, -64, 64.0, True):
        with pytest.raises(ValueError, match="training size"):
            motion_downsample(bad, 128, 128)  # type: ignore[arg-type]
    assert training_size({"data": {"size": 64}}) == 64
    for config in (None, {}, {"data": {}}, {"data": {"size": "64"}}, {"data": {"size": 0}}):
        assert training_size(config) is None


def _warp_model(seed: int = 0) -> NextFrameGenerator:
    torch.manual_seed(seed)
    model = build_generator(generator_config("tiny", **WARP)).eval()
    head = s2v.warp_branch(model).net.head[0]
    torch.nn.init.normal_(head.weight, 0, 2.0)  # a branch that moves: zero-initialised it copies
    return model


@torch.no_grad()
def test_motion_at_scale_runs_the_branch_on_the_small_frame():
    branch = s2v.warp_branch(_warp_model())
    image, mask = torch.rand(1, 3, 18, 22), (torch.rand(1, 1, 18, 22) > 0.5).float()
    assert all(
        torch.equal(a, b)
        for a, b in zip(motion_at_scale(branch, image, mask, 1), branch.motion(image, mask))
    )
    small = branch.motion(
        torch.nn.functional.avg_pool2d(image, 2), torch.nn.functional.avg_pool2d(mask, 2)
    )
    u, r = motion_at_scale(branch, image, mask, 2)
    want_u, want_r = up_from_motion(*small, 2, 18, 22)
    assert torch.equal(u, want_u) and torch.equal(r, want_r)
    assert u.abs().max() > 0.1  # the branch does move the frame
    assert r.mean(dim=(2, 3)).abs().max() < 1e-6


@torch.no_grad()
def test_a_composed_roll_out_at_the_training_scale():
    model = _warp_model(1)
    still, mask = np.random.default_rng(0).random((3, 24, 24)), np.zeros((1, 24, 24))
    mask[:, 8:16, 8:16] = 1
    opts = gq.at_training_scale(s2v.ComposedRollout(), None, {"data": {"size": 12}}, 24, True)
    assert opts.motion_downsample == 2
    clip = gq.roll_out_composed(model, still, mask, 3, opts)
    plain = gq.roll_out_composed(model, still, mask, 3, s2v.ComposedRollout())
    assert clip.fields is not None and plain.fields is not None
    assert not np.allclose(clip.fields, plain.fields)  # the network saw another frame
    ys, xs = np.mgrid[0:24, 0:24]
    for v in clip.fields:  # every step's sources inside the frame
        assert (xs + v[0]).min() >= 0 and (xs + v[0]).max() <= 23
        assert (ys + v[1]).min() >= 0 and (ys + v[1]).max() <= 23


def test_options_refused():
    with pytest.raises(s2v.StillToVideoError, match="motion_downsample"):
        s2v.ComposedRollout(motion_downsample=0).validate()
    with pytest.raises(gq.GenerationQualityError, match="only with compose"):
        gq.at_training_scale(s2v.ComposedRollout(), 2, None, 128, False)
    with pytest.raises(gq.GenerationQualityError, match="motion_downsample"):
        gq.at_training_scale(s2v.ComposedRollout(), 0, None, 128, True)
    assert (
        gq.at_training_scale(s2v.ComposedRollout(), None, None, 128, False).motion_downsample == 1
    )
    assert gq.at_training_scale(s2v.ComposedRollout(), None, None, 128, True).motion_downsample == 1
