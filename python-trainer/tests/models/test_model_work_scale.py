"""models/work_scale.py and propagate_masks(..., downsample=f): the two resampling formulas
against loops over their definitions, the vectors shared with the inference library
(packages/inference/src/work-scale.test.ts holds the same numbers), and the propagation contract:
masks at the frames' size, key frames keep their own masks, a bad factor is named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from stillmotion_trainer.evaluation.propagation import propagate_masks
from stillmotion_trainer.models.work_scale import bilinear_up, box_down, check_downsample

# shared with work-scale.test.ts: a 4x4 ramp down by 2, a 2x2 up by 2
SHARED_DOWN_IN = np.arange(16, dtype=np.float32).reshape(4, 4)
SHARED_DOWN_OUT = [[2.5, 4.5], [10.5, 12.5]]
SHARED_UP_IN = [[0.0, 1.0], [2.0, 3.0]]
SHARED_UP_OUT = [
    [0.0, 0.25, 0.75, 1.0],
    [0.5, 0.75, 1.25, 1.5],
    [1.5, 1.75, 2.25, 2.5],
    [2.0, 2.25, 2.75, 3.0],
]


def _box_loop(x: np.ndarray, f: int) -> np.ndarray:
    h, w = x.shape[0] // f, x.shape[1] // f
    return np.array(
        [[x[f * i : f * i + f, f * j : f * j + f].mean() for j in range(w)] for i in range(h)]
    )


def _up_loop(x: np.ndarray, f: int) -> np.ndarray:
    def source(i: int, n: int) -> tuple[int, int, float]:
        s = max((i + 0.5) / f - 0.5, 0.0)
        i0 = math.floor(s)
        return i0, min(i0 + 1, n - 1), s - i0

    h, w = x.shape
    out = np.zeros((h * f, w * f))
    for i in range(h * f):
        r0, r1, a = source(i, h)
        for j in range(w * f):
            c0, c1, b = source(j, w)
            top = (1 - b) * x[r0, c0] + b * x[r0, c1]
            bottom = (1 - b) * x[r1, c0] + b * x[r1, c1]
            out[i, j] = (1 - a) * top + a * bottom
    return out


def test_shared_vectors():
    down = box_down(torch.from_numpy(SHARED_DOWN_IN)[None, None], 2)[0, 0]
    assert down.tolist() == SHARED_DOWN_OUT
    up = bilinear_up(torch.tensor(SHARED_UP_IN)[None, None], 2)[0, 0]
    assert up.tolist() == SHARED_UP_OUT


@pytest.mark.parametrize("f", [2, 3])
def test_formulas_equal_loops_over_their_definitions(f):
    x = np.random.default_rng(f).random((5 * f, 4 * f)).astype(np.float32)
    down = box_down(torch.from_numpy(x)[None, None], f)[0, 0].numpy()
    assert np.allclose(down, _box_loop(x, f), atol=1e-6)
    up = bilinear_up(torch.from_numpy(down)[None, None], f)[0, 0].numpy()
    assert np.allclose(up, _up_loop(down, f), atol=1e-6)
    assert box_down(torch.from_numpy(x)[None, None], 1).shape == (1, 1, 5 * f, 4 * f)


class _CarryMask(nn.Module):
    """G(I_t, M_t, I_{t+1}) that returns M_t: propagation becomes resampling alone (the test
    makes factory.takes_next_frame accept it)."""

    def forward(self, image, mask, next_frame):
        return image, mask


def test_propagation_at_half_size_returns_full_size_masks_and_keeps_key_masks(monkeypatch):
    import stillmotion_trainer.evaluation.propagation as P

    monkeypatch.setattr(P, "takes_next_frame", lambda g: True)
    frames = torch.rand(5, 3, 8, 12)
    key = torch.zeros(1, 8, 12)
    key[:, 2:6, 4:10] = 1.0  # blocks of 2: the box average keeps it exactly
    out = propagate_masks(_CarryMask(), frames, {0: key}, reference="key", downsample=2)
    assert out.masks.shape == (5, 1, 8, 12) and out.steps == 4
    assert np.array_equal(out.masks[0], key.numpy())
    expected = bilinear_up(box_down(key[None], 2), 2)[0].numpy()
    for t in range(1, 5):
        assert np.allclose(out.masks[t], expected, atol=1e-6)
    # a carried mask loses only its edge to the resampling: Dice against the key stays high
    m = out.masks[1] > 0.5
    assert 2 * (m & (key.numpy() > 0.5)).sum() / (m.sum() + (key.numpy() > 0.5).sum()) > 0.9


def test_bad_factors_are_named():
    with pytest.raises(ValueError, match="downsample: 3 does not divide the frame size 8x12"):
        check_downsample(3, 8, 12)
    with pytest.raises(ValueError, match="downsample: expected an integer >= 1, got 0"):
        check_downsample(0, 8, 12)
    with pytest.raises(ValueError, match="does not divide"):
        propagate_masks(
            _CarryMask(), torch.rand(2, 3, 9, 12), {0: torch.zeros(1, 9, 12)}, downsample=2
        )


def test_eval_options_name_a_bad_downsample():
    from stillmotion_trainer.evaluation.evaluate import EvalOptions, EvaluationError

    for bad in (0, 1.5, True):
        with pytest.raises(EvaluationError, match="downsample: expected an integer >= 1"):
            EvalOptions(downsample=bad).check()  # type: ignore[arg-type]
    EvalOptions(downsample=2).check()
