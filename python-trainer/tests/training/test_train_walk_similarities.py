"""The trainer's loss with d computed once per pair of frames (walk_pass.walk_similarities)
equals the loss computed per (walk, transition, key) as training_loss does it alone."""

from __future__ import annotations

import pytest
import torch

from stillmotion_trainer.losses import LossConfig, training_loss
from stillmotion_trainer.losses.similarity import d_ssim
from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training.walk_pass import (
    WalkInputs,
    run_walks,
    walk_loss,
    walk_similarities,
)
from stillmotion_trainer.training.walks import plan_walks


def _clips(b: int, t: int, size: int) -> torch.Tensor:
    """Frames that drift slowly, so d spreads over both sides of gamma1."""
    g = torch.Generator().manual_seed(1)
    frames = [torch.rand(b, 3, size, size, generator=g)]
    for _ in range(t - 1):
        step = 0.25 * torch.rand(b, 3, size, size, generator=g) - 0.125
        frames.append((frames[-1] + step).clamp(0, 1))
    return torch.stack(frames, 1)  # (B, T, C, H, W)


def _walk_batch(mode: str, is_key: torch.Tensor, size: int = 16):
    b, t = is_key.shape
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny"))
    frames = _clips(b, t, size)
    key_masks = (torch.rand(b, t, 1, size, size) > 0.5).float() * is_key[..., None, None, None]
    walks = plan_walks(mode, is_key, [0.3 * i % 1 for i in range(b)])
    seeds = torch.rand(walks.count, 1, size, size)
    return run_walks(model, WalkInputs.of(frames, key_masks, is_key, walks, seeds), 0), model


EVERY = torch.ones(3, 7, dtype=torch.bool)  # a key mask on every frame (the 8.7 s case)
SPARSE = torch.zeros(3, 7, dtype=torch.bool)
SPARSE[0, 2], SPARSE[1, 0], SPARSE[1, 6], SPARSE[2, 4] = True, True, True, True


@pytest.mark.parametrize("mode", ["cycle", "keyframe", "fused"])
@pytest.mark.parametrize("is_key", [EVERY, SPARSE], ids=["every-frame", "sparse"])
@pytest.mark.parametrize("d", ["ssim", "ncc", "1-l1"])
def test_walk_loss_equals_the_loss_computed_pair_by_pair(mode, is_key, d):
    wb, _ = _walk_batch(mode, is_key)
    d_first, d_second = walk_similarities(wb, d)
    gamma1 = float(d_first.median())  # both branches of theta are taken
    cfg = LossConfig(d=d, gamma1=gamma1, gamma2=0.6)
    got = walk_loss(wb, cfg)
    want = training_loss(
        wb.frames_in, wb.frames_next, wb.pred_images, wb.mask_in, wb.pred_masks,
        wb.mask_in_inferred, wb.key_images, wb.key_masks, wb.key_valid, cfg,
    )  # fmt: skip
    for name in want:
        assert abs(float(got[name]) - float(want[name])) <= 1e-6, name
    assert float(want["mask_second"]) > 0


def test_walk_similarities_are_d_of_the_frames_each_walk_meets():
    wb, _ = _walk_batch("cycle", SPARSE)
    d_first, d_second = walk_similarities(wb, "ssim")

    w, j, k = d_second.shape
    want_first = d_ssim(wb.frames_in.flatten(0, 1), wb.frames_next.flatten(0, 1)).view(w, j)
    torch.testing.assert_close(d_first, want_first, rtol=0, atol=1e-6)
    for wi in range(w):
        for q in range(k):
            if not wb.key_valid[wi, q]:
                assert d_second[wi, :, q].eq(0).all()  # padding: masked out by L_M2
                continue
            key = wb.key_images[wi, q].expand_as(wb.frames_next[wi])
            torch.testing.assert_close(d_second[wi, :, q], d_ssim(key, wb.frames_next[wi]),
                                       rtol=0, atol=1e-6)  # fmt: skip
    # a cycle walk ends on its key frame: d(I_k, I_k) = 1 at the last transition
    assert d_second[0, -1, 0] == 1.0


def test_walk_loss_gives_the_plain_loss_gradients():
    cfg = LossConfig(gamma1=0.5, gamma2=0.6)
    grads = []
    for reuse in (True, False):
        wb, model = _walk_batch("cycle", EVERY)
        if reuse:
            terms = walk_loss(wb, cfg)
        else:
            terms = training_loss(
                wb.frames_in, wb.frames_next, wb.pred_images, wb.mask_in, wb.pred_masks,
                wb.mask_in_inferred, wb.key_images, wb.key_masks, wb.key_valid, cfg,
            )  # fmt: skip
        terms["total"].backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-6)
