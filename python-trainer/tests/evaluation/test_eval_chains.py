"""Chain plan and fusion: the Fig. 6 semantics of packages/inference/src/propagate.ts."""

import numpy as np
import pytest

from stillmotion_trainer.evaluation.chains import Chain, fuse_chains, plan_chains


def test_one_key_frame_walks_to_both_ends():
    assert plan_chains(6, [2]) == [Chain(2, 1, 5), Chain(2, -1, 0)]
    assert Chain(2, -1, 0).steps == [(2, 1), (1, 0)]
    assert Chain(2, 1, 5).frames == [3, 4, 5]


def test_key_frames_at_the_ends_have_a_single_chain():
    assert plan_chains(4, [0]) == [Chain(0, 1, 3)]
    assert plan_chains(4, [3]) == [Chain(3, -1, 0)]
    assert plan_chains(1, [0]) == []


def test_linear_chains_stop_at_the_next_key_frame_and_nearest_half_way():
    assert plan_chains(8, [5, 1]) == [
        Chain(1, 1, 4),
        Chain(1, -1, 0),
        Chain(5, 1, 7),
        Chain(5, -1, 2),
    ]
    # nearest: frames 2, 3 belong to key 1 (3 is a tie -> earlier key), 4 to key 5
    assert plan_chains(8, [1, 5], "nearest") == [
        Chain(1, 1, 3), Chain(1, -1, 0), Chain(5, 1, 7), Chain(5, -1, 4),
    ]  # fmt: skip


def test_linear_fusion_weights_each_chain_by_the_distance_to_the_other_key():
    chains = plan_chains(6, [0, 4])  # forward 0 -> 3, forward 4 -> 5, backward 4 -> 1
    ones, zeros = np.ones((1, 2, 2), np.float32), np.zeros((1, 2, 2), np.float32)
    outputs = [{t: ones for t in c.frames} if c.key == 0 else {t: zeros for t in c.frames}
               for c in chains]  # fmt: skip
    fused = fuse_chains(6, {0: ones, 4: zeros}, chains, outputs)
    # frame t between keys 0 and 4 takes (4 - t) / 4 of key 0's chain
    assert [float(fused.masks[t].mean()) for t in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert fused.sources[1] == [(0, 0.75), (4, 0.25)]
    assert fused.sources[5] == [(4, 1.0)]
    assert fused.sources[0] == [(0, 1.0)]


def test_bad_plans_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="fusion: unsupported value 'mean'"):
        plan_chains(4, [0], "mean")
    with pytest.raises(ValueError, match="key_indices: 4 is outside 0..3"):
        plan_chains(4, [4])
    with pytest.raises(ValueError, match="repeated"):
        plan_chains(4, [1, 1])
    with pytest.raises(ValueError, match="at least one key frame"):
        plan_chains(4, [])
