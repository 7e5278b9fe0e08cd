"""Fig. 6 propagation with a toy generator whose steps are known, against a hand-computed chain."""

import numpy as np
import pytest
import torch
from eval_helpers import ShiftByFrame, ShiftByNextFrame, constant_frames, shift_right

from stillmotion_trainer.evaluation.propagation import predict_next_frames, propagate_masks

W = 64


def key_mask(col: int) -> torch.Tensor:
    m = torch.zeros(1, 4, W)
    m[..., col] = 1.0
    return m


def test_one_key_frame_feeds_each_real_frame_and_the_previous_mask():
    frames = constant_frames(6, width=W)  # frame t shifts by t
    g = ShiftByFrame()
    result = propagate_masks(g, frames, {2: key_mask(3)})
    k = key_mask(3).numpy()
    # forward: M_3 = shift(M_2, 2), M_4 = shift(M_3, 3), M_5 = shift(M_4, 4)
    m3 = shift_right(k, 2)
    m4 = shift_right(m3, 3)
    m5 = shift_right(m4, 4)
    # backward from frame 2: M_1 = shift(M_2, 2) (fed I_2), M_0 = shift(M_1, 1) (fed I_1)
    m1 = shift_right(k, 2)
    m0 = shift_right(m1, 1)
    expected = np.stack([m0, m1, k, m3, m4, m5])
    np.testing.assert_array_equal(result.masks, expected)
    assert result.steps == 5
    assert g.calls == [2, 2, 1]  # forward and backward chains advance together


def test_next_frame_input_generators_get_the_frame_the_step_moves_to():
    frames = constant_frames(5, width=W)
    result = propagate_masks(ShiftByNextFrame(), frames, {2: key_mask(0)})
    k = key_mask(0).numpy()
    m3 = shift_right(k, 3)  # fed I_3
    m4 = shift_right(m3, 4)
    m1 = shift_right(k, 1)  # backward: fed I_1, then I_0
    m0 = shift_right(m1, 0)
    np.testing.assert_array_equal(result.masks, np.stack([m0, m1, k, m3, m4]))


def test_two_key_frames_fuse_linearly_between_them():
    frames = constant_frames(6, width=W)
    keys = {1: key_mask(0), 4: key_mask(10)}
    result = propagate_masks(ShiftByFrame(), frames, keys)
    a, b = keys[1].numpy(), keys[4].numpy()
    fwd2 = shift_right(a, 1)  # forward chain from key 1
    fwd3 = shift_right(fwd2, 2)
    bwd3 = shift_right(b, 4)  # backward chain from key 4
    bwd2 = shift_right(bwd3, 3)
    np.testing.assert_allclose(result.masks[2], (2 * fwd2 + 1 * bwd2) / 3, atol=1e-6)
    np.testing.assert_allclose(result.masks[3], (1 * fwd3 + 2 * bwd3) / 3, atol=1e-6)
    np.testing.assert_array_equal(result.masks[0], shift_right(a, 1))
    np.testing.assert_array_equal(result.masks[5], shift_right(b, 4))
    assert result.sources[2] == [(1, pytest.approx(2 / 3)), (4, pytest.approx(1 / 3))]
    assert result.steps == 6  # every non-key frame once per chain reaching it: 0, 2, 3 twice, 5


def test_batching_does_not_change_the_masks():
    frames = constant_frames(7, width=W)
    keys = {2: key_mask(1), 5: key_mask(20)}
    one = propagate_masks(ShiftByFrame(), frames, keys, max_batch=1)
    many = propagate_masks(ShiftByFrame(), frames, keys, max_batch=8)
    np.testing.assert_array_equal(one.masks, many.masks)
    assert one.steps == many.steps


def test_reference_key_carries_the_key_mask_straight_to_every_frame():
    """reference "key": M^_t = G(I_k, M_k, I_t) (the toy G shifts by the target frame's
    number), fused as usual; all steps of all chains batched together."""
    frames = constant_frames(7, width=W)
    keys = {1: key_mask(0), 5: key_mask(10)}
    g = ShiftByNextFrame()
    result = propagate_masks(g, frames, keys, reference="key", max_batch=4)
    a, b = keys[1].numpy(), keys[5].numpy()
    np.testing.assert_array_equal(result.masks[0], shift_right(a, 0))
    for t in (2, 3, 4):  # between the keys: the forward chain of 1, the backward chain of 5
        wa, wb = (5 - t) / 4, (t - 1) / 4
        expected = wa * shift_right(a, t) + wb * shift_right(b, t)
        np.testing.assert_allclose(result.masks[t], expected, atol=1e-6)
    np.testing.assert_array_equal(result.masks[6], shift_right(b, 6))
    assert result.steps == 8 and g.calls == [4, 4]  # 1 + 3 + 3 + 1 steps, 4 per call
    one = propagate_masks(ShiftByNextFrame(), frames, keys, reference="key", max_batch=1)
    np.testing.assert_array_equal(one.masks, result.masks)


def test_reference_key_needs_a_generator_that_sees_the_target_frame():
    frames = constant_frames(3, width=W)
    with pytest.raises(ValueError, match="reference: 'key' needs a generator"):
        propagate_masks(ShiftByFrame(), frames, {0: key_mask(0)}, reference="key")
    with pytest.raises(ValueError, match="reference: unsupported value 'next'"):
        propagate_masks(ShiftByNextFrame(), frames, {0: key_mask(0)}, reference="next")


def test_next_frame_prediction_uses_the_propagated_masks_batched():
    frames = constant_frames(5, width=W)
    masks = torch.rand(5, 1, 4, W)
    g = ShiftByFrame()
    predicted = predict_next_frames(g, frames, masks, max_batch=3)
    torch.testing.assert_close(predicted, 1.0 - frames[:4])  # toy G: image -> 1 - image
    assert g.calls == [3, 1]


def test_bad_inputs_name_the_argument():
    frames = constant_frames(3, width=W)
    with pytest.raises(ValueError, match=r"key_masks\[0\]: expected shape"):
        propagate_masks(ShiftByFrame(), frames, {0: torch.zeros(1, 3, 3)})
    with pytest.raises(ValueError, match="max_batch"):
        propagate_masks(ShiftByFrame(), frames, {0: key_mask(0)}, max_batch=0)
