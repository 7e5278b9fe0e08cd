"""Input modes, seed masks, data order, the Fig. 4 chain and the learning-rate schedule."""

from __future__ import annotations

import json
import math

import pytest
import torch
from train_helpers import quiet, small_config

from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training.data_order import (
    RunBatches,
    epoch_batches,
    epoch_permutation,
    rank_slice,
    validation_shard,
)
from stillmotion_trainer.training.initial_mask import (
    MAX_AREA,
    MIN_AREA,
    initial_masks,
    random_blob_mask,
    reseed,
    walk_generator,
)
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.lr_schedule import lr_factor
from stillmotion_trainer.training.walk_pass import WalkInputs, run_walks
from stillmotion_trainer.training.walks import (
    cycle_segments,
    gather_key_frames,
    keyframe_segments,
    plan_walks,
)

KEYS = torch.tensor([[0, 0, 1, 0, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)


def test_forward_and_reverse_visit_every_frame_once_in_order():
    w = plan_walks("forward", KEYS, [0.0] * 3)
    assert w.src.tolist()[0] == [0, 1, 2, 3] and w.dst.tolist()[0] == [1, 2, 3, 4]
    r = plan_walks("reverse", KEYS, [0.0] * 3)
    assert r.src.tolist()[0] == [4, 3, 2, 1] and r.dst.tolist()[0] == [3, 2, 1, 0]
    for walks in (w, r):
        assert walks.seed[:, 0].all() and not walks.seed[:, 1:].any()  # one chain per walk
        assert walks.clip.tolist() == [0, 1, 2]


def test_fused_makes_a_forward_and_a_reverse_walk_per_clip():
    f = plan_walks("fused", KEYS, [0.0] * 3)
    assert f.clip.tolist() == [0, 1, 2, 0, 1, 2]
    assert f.direction.tolist() == [0, 0, 0, 1, 1, 1]
    assert f.src[0].tolist() == [0, 1, 2, 3] and f.src[3].tolist() == [4, 3, 2, 1]


def test_keyframe_walks_go_forward_then_backward_from_a_key_frame():
    src, dst, seed = keyframe_segments(5, 2)
    assert src == [2, 3, 2, 1] and dst == [3, 4, 1, 0]
    assert seed == [True, False, True, False]  # the chain restarts at the key frame
    # draws pick among the clip's key frames: clip 0 has keys 2 and 4
    k = plan_walks("keyframe", KEYS, [0.1, 0.5, 0.99])
    assert k.start.tolist() == [2, 0, 4]
    assert k.src[1].tolist() == [0, 1, 2, 3] and k.seed[1].tolist() == [True, False, False, False]
    assert k.src[2].tolist() == [4, 3, 2, 1] and k.dst[2].tolist() == [3, 2, 1, 0]
    assert plan_walks("keyframe", KEYS, [0.9, 0.0, 0.0]).start.tolist()[0] == 4
    # every frame but the start is predicted exactly once
    for row, start in zip(k.dst.tolist(), k.start.tolist()):
        assert sorted(row + [start]) == [0, 1, 2, 3, 4]


def test_cycle_walks_go_out_and_come_back_to_their_key_frame():
    # clip of 7 frames (J = 6): out 3 frames towards the end with more room, back the same way
    assert cycle_segments(7, 1) == ([1, 2, 3, 4, 3, 2], [2, 3, 4, 3, 2, 1], [True] + [False] * 5)
    assert cycle_segments(7, 5)[1] == [4, 3, 2, 3, 4, 5]
    # J odd: the last transition stays on the key frame
    assert cycle_segments(6, 0)[:2] == ([0, 1, 2, 1, 0], [1, 2, 1, 0, 0])
    c = plan_walks("cycle", KEYS, [0.1, 0.5, 0.99])
    assert c.start.tolist() == [2, 0, 4]
    for w in range(c.count):  # one chain (a single seed), ending on the start key frame
        assert c.dst[w, -1] == c.start[w] and c.src[w, 0] == c.start[w]
        assert c.seed[w].tolist() == [True, False, False, False]
        assert c.src[w, 1:].tolist() == c.dst[w, :-1].tolist()


def test_keyframe_mode_refuses_a_clip_without_key_frames():
    with pytest.raises(ValueError, match="clip 1 of the batch has no key frame"):
        plan_walks("keyframe", torch.tensor([[1, 0], [0, 0]], dtype=torch.bool), [0.0, 0.0])
    with pytest.raises(
        ValueError, match="Should be one of: forward, reverse, fused, keyframe, cycle"
    ):
        plan_walks("sideways", KEYS, [0.0] * 3)


def test_key_frames_are_packed_with_validity_flags():
    frames = torch.arange(3 * 5, dtype=torch.float32).view(3, 5, 1, 1, 1)
    images, masks, valid = gather_key_frames(frames, frames + 100, KEYS)
    assert images.shape == (3, 2, 1, 1, 1) and masks.shape == (3, 2, 1, 1, 1)
    assert images[..., 0, 0, 0].tolist() == [[2, 4], [5, 6], [14, 10]]
    assert valid.tolist() == [[True, True], [True, False], [True, False]]
    assert masks[0, :, 0, 0, 0].tolist() == [102, 104]


def test_random_masks_are_binary_blobs_with_the_documented_area():
    areas = []
    for clip in range(40):
        m = random_blob_mask(32, 24, walk_generator(0, 0, 5, clip, 0))
        assert m.shape == (1, 32, 24) and set(m.unique().tolist()) <= {0.0, 1.0}
        areas.append(float(m.mean()))
    assert min(areas) >= MIN_AREA - 1e-3 and max(areas) <= MAX_AREA + 1e-3
    assert max(areas) - min(areas) > 0.2  # the area itself is random
    a = random_blob_mask(16, 16, walk_generator(1, 0, 3, 2, 0))
    b = random_blob_mask(16, 16, walk_generator(1, 0, 3, 2, 0))
    c = random_blob_mask(16, 16, walk_generator(1, 0, 4, 2, 0))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_initial_mask_kinds():
    key_masks = torch.rand(3, 5, 1, 4, 4)
    walks = plan_walks("keyframe", KEYS, [0.1, 0.5, 0.99])
    args = dict(seed=0, purpose=0, step=1, global_clip_ids=[0, 1, 2])
    seeds = initial_masks("keyframe", walks, key_masks, KEYS, **args)
    assert torch.equal(seeds, key_masks[[0, 1, 2], [2, 0, 4]])
    assert not initial_masks("zeros", walks, key_masks, KEYS, **args).any()
    forward = plan_walks("forward", KEYS, [0.0] * 3)
    with pytest.raises(ValueError, match="walk 0 starts at frame 0, which has no key mask"):
        initial_masks("keyframe", forward, key_masks, KEYS, **args)
    # random seeds depend on the global clip id, not the local position (DDP sharding)
    one = initial_masks("random", forward, key_masks, KEYS, **args)
    shard = plan_walks("forward", KEYS[1:], [0.0] * 2)
    other = initial_masks(
        "random", shard, key_masks[1:], KEYS[1:], **(args | {"global_clip_ids": [1, 2]})
    )
    assert torch.equal(one[1:], other)


def test_reseed_swaps_seeds_for_random_or_empty_masks_at_the_given_rate():
    walks = plan_walks("forward", torch.zeros(400, 3, dtype=torch.bool), [0.0] * 400)
    seeds = torch.ones(400, 1, 8, 8)
    args = dict(seed=0, purpose=0, step=1, global_clip_ids=list(range(400)))
    assert reseed(seeds, 0.0, walks, **args) is seeds
    out = reseed(seeds, 0.5, walks, **args)
    area = out.mean(dim=(1, 2, 3))
    kept, empty = int((area == 1).sum()), int((area == 0).sum())
    blobs = 400 - kept - empty
    # binomial(400, 0.5) and (400, 0.25): 5 standard deviations
    assert abs(kept - 200) < 50 and abs(empty - 100) < 44 and abs(blobs - 100) < 44
    assert ((area > MIN_AREA - 0.02) & (area < MAX_AREA + 0.02)).sum() == blobs
    assert torch.equal(out, reseed(seeds, 0.5, walks, **args))  # a function of the draw only
    assert not torch.equal(out, reseed(seeds, 0.5, walks, **(args | {"step": 2})))


def test_data_order_depends_only_on_seed_and_epoch_and_shards_exactly():
    assert epoch_permutation(10, 1, 0) == epoch_permutation(10, 1, 0)
    assert epoch_permutation(10, 1, 0) != epoch_permutation(10, 1, 1)
    batches = epoch_batches(10, 4, seed=1, epoch=0)
    assert len(batches) == 2 and all(len(b) == 4 for b in batches)  # last partial batch dropped
    for b in batches:
        assert rank_slice(b, 0, 2) + rank_slice(b, 1, 2) == b
    assert validation_shard(5, None, 0, 2) == [0, 2, 4] and validation_shard(5, 4, 1, 2) == [1, 3]


def test_run_batches_chain_epochs_and_resume_mid_epoch():
    """The run-long sampler yields exactly the per-epoch batches, keyed by epoch, and a resume
    at (epoch, batch_in_epoch) continues the same sequence."""
    expected = [
        [(e, i) for i in rank_slice(b, 1, 2)]
        for e in range(3)
        for b in epoch_batches(10, 4, seed=1, epoch=e)
    ]
    run = RunBatches(10, 4, seed=1, start_epoch=0, skip=0, rank=1, world_size=2)
    assert run.per_epoch == 2
    got = [b for _, b in zip(range(6), run)]
    assert got == expected
    resumed = RunBatches(10, 4, seed=1, start_epoch=1, skip=1, rank=1, world_size=2)
    assert [b for _, b in zip(range(3), resumed)] == expected[3:]


def _tiny_chain(bptt_window: int):
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny"))
    frames = torch.rand(2, 5, 3, 8, 8)
    key_masks = (torch.rand(2, 5, 1, 8, 8) > 0.5).float()
    walks = plan_walks("forward", KEYS[:2], [0.0, 0.0])
    seeds = torch.rand(2, 1, 8, 8, requires_grad=True)
    wb = run_walks(model, WalkInputs.of(frames, key_masks, KEYS[:2], walks, seeds), bptt_window)
    return frames, seeds, wb


def test_chain_is_teacher_forced_and_autoregressive():
    frames, _, wb = _tiny_chain(0)
    assert wb.frames_in.shape == (2, 4, 3, 8, 8)
    assert torch.equal(wb.frames_in[1, 2], frames[1, 2])  # real frame, never a prediction
    assert torch.equal(wb.frames_next[1, 2], frames[1, 3])
    assert torch.equal(wb.mask_in[:, 1:], wb.pred_masks[:, :-1])  # previous inferred mask
    assert wb.mask_in_inferred.tolist() == [[False, True, True, True]] * 2
    assert wb.key_valid.tolist() == [[True, True], [True, False]]


@pytest.mark.parametrize("window", [0, 1, 2, 3])
def test_bptt_window_limits_how_far_gradients_flow_back_the_mask_chain(window):
    """M^ predicted at transition j reaches the seed mask (j transitions back) iff the chain
    was not cut in between: cuts happen at j = window, 2 * window, ..."""
    _, seeds, wb = _tiny_chain(window)
    for j in range(4):
        (grad,) = torch.autograd.grad(wb.pred_masks[:, j].sum(), seeds, retain_graph=True)
        reaches = bool(grad.abs().sum() > 0)
        assert reaches == (window == 0 or j < window), (window, j)


def test_a_frozen_warp_head_matches_from_each_frames_features_computed_once(monkeypatch):
    """run_walks with a frozen displacement (FrozenMotion: features per clip frame once, the
    pairs of each transition matched from them) gives what the model computing the match at
    every transition gives, on a cycle walk that visits each frame four times; the features are
    computed for B x T frames, not 2 per transition."""
    from stillmotion_trainer.models import next_frame
    from stillmotion_trainer.models.next_frame import freeze_displacement

    cfg = generator_config(
        "tiny", next_frame_input=True, mask_head="warp", mask_refine=True, matcher="wide-grey"
    )
    torch.manual_seed(0)
    model = build_generator(cfg)
    freeze_displacement(model)
    frames = torch.rand(2, 4, 3, 24, 20, generator=torch.Generator().manual_seed(1))
    keys = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 0]], dtype=torch.bool)
    key_masks = (torch.rand(2, 4, 1, 24, 20) > 0.5).float()
    walks = plan_walks("cycle", keys, [0.0, 0.0])
    seeds = torch.rand(walks.count, 1, 24, 20)
    calls = []
    features = model.displacement.features
    monkeypatch.setattr(
        model.displacement, "features", lambda x: calls.append(x.shape[0]) or features(x)
    )
    inputs = WalkInputs.of(frames, key_masks, keys, walks, seeds)
    cached = run_walks(model, inputs, 0, next_frame_input=True)
    assert calls == [8]  # B x T frames, once
    monkeypatch.setattr(next_frame.FrozenMotion, "of", staticmethod(lambda m, f: None))
    direct = run_walks(model, inputs, 0, next_frame_input=True)
    assert len(calls) == 1 + 2 * walks.transitions  # the model matched both frames each time
    torch.testing.assert_close(cached.pred_masks, direct.pred_masks, atol=1e-6, rtol=0)
    torch.testing.assert_close(cached.pred_images, direct.pred_images)
    model.displacement.log_beta.requires_grad_(True)  # trained: the model computes it
    assert next_frame.FrozenMotion.of(model, frames) is None


def test_lr_schedule_warmup_and_decay():
    cfg = small_config(
        train={"scheduler": {"name": "cosine", "warmup_steps": 2, "min_lr_ratio": 0.1}},
        stop={"max_steps": 12},
    )
    factors = [lr_factor(s, cfg) for s in range(13)]
    assert factors[:3] == [0.5, 1.0, 1.0]
    assert factors[12] == pytest.approx(0.1) and factors[7] == pytest.approx(0.55)
    linear = small_config(train={"scheduler": {"name": "linear"}}, stop={"max_steps": 10})
    assert lr_factor(5, linear) == pytest.approx(0.55)
    assert lr_factor(5, small_config()) == 1.0


def test_lr_schedule_over_the_time_budget():
    """horizon time_budget: the decay's progress is training time / stop.time_budget_s, so a
    run stopped by its budget ends at lr * min_lr_ratio whatever its step count."""
    sch = {"name": "cosine", "warmup_steps": 2, "min_lr_ratio": 0.1, "horizon": "time_budget"}
    cfg = small_config(train={"scheduler": sch}, stop={"max_steps": None, "time_budget_s": 100})
    assert lr_factor(0, cfg, elapsed_s=50.0) == 0.5  # warm-up is counted in steps
    assert lr_factor(1000, cfg, elapsed_s=0.0) == 1.0
    half = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert lr_factor(7, cfg, elapsed_s=50.0) == pytest.approx(half)
    assert lr_factor(7, cfg, elapsed_s=100.0) == pytest.approx(0.1)
    assert lr_factor(7, cfg, elapsed_s=250.0) == pytest.approx(0.1)  # past the budget: the floor
    linear = {"name": "linear", "horizon": "time_budget"}
    cfg = small_config(train={"scheduler": linear}, stop={"time_budget_s": 10})
    assert lr_factor(3, cfg, elapsed_s=2.5) == pytest.approx(1 - 0.9 * 0.25)


def test_a_time_budget_schedule_decays_in_a_real_run(tmp_path):
    """The loop feeds the training time the ranks agreed on to the schedule: with a budget the
    run does not reach, the logged lr falls at every step and stays above the floor."""
    sch = {"name": "linear", "horizon": "time_budget", "min_lr_ratio": 0.1}
    budget = 600.0
    cfg = small_config(train={"scheduler": sch}, stop={"max_steps": 5, "time_budget_s": budget})
    train(cfg, run_dir=tmp_path, log=quiet)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if r["kind"] == "train"]
    # steps 1 and 2 run before any time was agreed (the schedule steps before the stop check)
    assert len(lrs) == 5 and lrs[0] == lrs[1] == cfg.train.lr
    assert all(a > b for a, b in zip(lrs[1:], lrs[2:]))
    assert lrs[-1] > cfg.train.lr * 0.1
