"""Key-frame anchor transitions, the frozen displacement estimator, clips per video (issue J)."""

import numpy as np
import pytest
import torch

from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.next_frame import NextFrameGenerator, freeze_displacement
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training.initial_mask import walk_generator
from stillmotion_trainer.training.key_anchor import (
    ANCHOR_STREAM,
    anchor_loss,
    corrupt_key_mask,
    plan_anchors,
)
from stillmotion_trainer.training.data_setup import clips_per_video_for


def square_mask(h=32, w=32, top=10, left=10, side=8):
    m = torch.zeros(1, h, w)
    m[:, top : top + side, left : left + side] = 1.0
    return m


def test_corrupt_key_mask_moves_and_resizes_the_mask_within_its_bounds():
    mask = square_mask()
    ys0, xs0 = np.nonzero(mask[0].numpy())
    for i in range(20):
        out = corrupt_key_mask(mask, torch.Generator().manual_seed(i))
        assert out.shape == mask.shape
        assert set(np.unique(out.numpy())) <= {0.0, 1.0}
        ys, xs = np.nonzero(out[0].numpy())
        assert len(ys) > 0
        # shift <= 10 % of 32 px (3.2), growth <= 3 % of 32 px (1 px), bilinear rounding 1 px
        assert abs(ys.mean() - ys0.mean()) <= 3.2 + 1.5
        assert abs(xs.mean() - xs0.mean()) <= 3.2 + 1.5
        assert 4**2 <= len(ys) <= 12**2


def test_plan_anchors_lands_on_a_key_frame_from_its_neighbour_and_is_reproducible():
    b, t, h, w = 3, 5, 16, 16
    key_masks = torch.zeros(b, t, 1, h, w)
    is_key = torch.zeros(b, t, dtype=torch.bool)
    is_key[0, 0] = is_key[1, 4] = True  # clip 2 has no key frame: never anchored
    key_masks[0, 0] = square_mask(h, w, 4, 4, 6)
    key_masks[1, 4] = square_mask(h, w, 2, 8, 5)
    kw = dict(seed=3, purpose=0, step=7, global_clip_ids=[10, 11, 12])
    a = plan_anchors(1.0, key_masks, is_key, **kw)
    assert a is not None and a.count == 2
    assert a.clip.tolist() == [0, 1]
    assert a.key.tolist() == [0, 4]
    assert a.src.tolist() == [1, 3]  # the only neighbour inside the clip
    again = plan_anchors(1.0, key_masks, is_key, **kw)
    assert again is not None and torch.equal(a.seeds, again.seeds)
    assert plan_anchors(0.0, key_masks, is_key, **kw) is None


def test_plan_anchors_takes_each_clip_with_probability_prob():
    b, t = 200, 3
    key_masks = torch.zeros(b, t, 1, 8, 8)
    is_key = torch.zeros(b, t, dtype=torch.bool)
    is_key[:, 1] = True
    a = plan_anchors(0.3, key_masks, is_key, seed=0, purpose=0, step=0, global_clip_ids=range(b))
    assert a is not None
    assert 0.2 < a.count / b < 0.4
    # the draw for clip c is the first of its own stream
    took = [
        float(torch.rand(4, generator=walk_generator(0, 0, 0, c, ANCHOR_STREAM))[0]) < 0.3
        for c in range(b)
    ]
    assert a.clip.tolist() == [c for c in range(b) if took[c]]


def tiny_warp_generator():
    torch.manual_seed(0)
    cfg = generator_config(
        "tiny", next_frame_input=True, mask_head="warp", mask_refine=True, image_residual=True
    )
    return build_generator(cfg)


def test_anchor_loss_is_phi_of_the_key_mask_and_trains_the_correction():
    g = tiny_warp_generator()
    b, t, h, w = 2, 3, 16, 16
    frames = torch.rand(b, t, 3, h, w)
    key_masks = torch.zeros(b, t, 1, h, w)
    is_key = torch.zeros(b, t, dtype=torch.bool)
    is_key[:, 1] = True
    key_masks[:, 1] = square_mask(h, w, 4, 4, 6)
    a = plan_anchors(1.0, key_masks, is_key, seed=0, purpose=0, step=0, global_clip_ids=[0, 1])
    assert a is not None
    loss = anchor_loss(g, frames, key_masks, a, "dice", torch.no_grad, True)
    with torch.no_grad():
        _, pred = g(frames[a.clip, a.src], a.seeds, frames[a.clip, a.key])
    target = key_masks[a.clip, a.key]
    inter = (pred * target).sum((1, 2, 3))
    expected = 1 - (2 * inter + 1e-6) / (pred.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1e-6)
    assert float(loss) == pytest.approx(float(expected.mean()), abs=1e-6)
    with torch.enable_grad():
        anchor_loss(g, frames, key_masks, a, "dice", torch.enable_grad, True).backward()
    assert g.refine_net is not None
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in g.refine_net.parameters())


def test_frozen_displacement_gives_the_same_masks_and_no_gradients():
    g = tiny_warp_generator()
    x, y, m = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), torch.rand(2, 1, 16, 16)
    _, before = g(x, m, y)
    freeze_displacement(g)
    _, after = g(x, m, y)
    assert torch.equal(before, after)
    after.sum().backward()
    assert g.displacement is not None
    assert all(p.grad is None for p in g.displacement.parameters())
    assert g.refine_net is not None
    assert all(p.grad is not None for p in g.refine_net.parameters())


def test_freeze_displacement_refuses_a_model_without_one():
    torch.manual_seed(0)
    cfg = generator_config("tiny", next_frame_input=True, mask_head="conv")
    with pytest.raises(ValueError, match="mask_head must be warp"):
        freeze_displacement(NextFrameGenerator(cfg))


@pytest.mark.parametrize(
    "configured, batch, videos, expected",
    [(4, 8, 1, 8), (4, 8, 2, 4), (4, 8, 3, 4), (2, 8, 3, 3), (None, 8, 1, None), (4, 8, 0, 4)],
)
def test_clips_per_video_is_raised_to_fill_one_batch(configured, batch, videos, expected):
    assert clips_per_video_for(configured, batch, videos) == expected
