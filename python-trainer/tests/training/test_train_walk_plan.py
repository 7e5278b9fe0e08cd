"""The walks, seed masks and packed key frames of a step, planned in the training loader's worker
processes (walk_plan.py): the same as planned in the loop, for the right step, or an error."""

from __future__ import annotations

import pytest
import torch
from train_helpers import small_config

from stillmotion_trainer.training.data_setup import TrainBatches, build_datasets
from stillmotion_trainer.training.distributed import DistContext
from stillmotion_trainer.training.initial_mask import PURPOSE_TRAIN, PURPOSE_VAL
from stillmotion_trainer.training.walk_pass import prepare_walks
from stillmotion_trainer.training.walk_plan import PLAN_KEY, plan_batch
from stillmotion_trainer.training.walks import gather_frames, plan_walks

CPU = DistContext(
    rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), initialized_here=False
)


def _same_plan(a, b) -> None:
    assert (a.step, a.purpose) == (b.step, b.purpose)
    for name in ("clip", "direction", "start", "src", "dst", "seed"):
        assert torch.equal(getattr(a.walks, name), getattr(b.walks, name)), name
    assert torch.equal(a.seed_masks, b.seed_masks)
    for x, y in zip(a.keys, b.keys):
        assert torch.equal(x, y)


@pytest.mark.parametrize(
    "train",
    [
        {"mode": "forward", "initial_mask": "random"},
        {"mode": "cycle", "initial_mask": "keyframe", "reseed_prob": 0.5},
        {"mode": "fused", "initial_mask": "random"},
    ],
)
def test_the_loaders_workers_plan_each_batch_as_the_loop_would_for_its_step(train):
    """Two worker processes, resumed mid-run at step 5: batch i is planned for step 5 + i, and
    its plan is plan_batch's on the same clips in this process."""
    cfg = small_config(
        data={"num_workers": 2, "require_key": train["mode"] == "cycle", "val_fraction": 0.0},
        train=train,
    )
    data = build_datasets(cfg, master=False)
    batches = TrainBatches(data.train_set, cfg, 1, 1, CPU, cfg.data.batch_size, step=5)
    try:
        for i in range(4):
            batch, _, _ = batches.next()
            plan = batch[PLAN_KEY]
            assert plan.step == 5 + i
            direct = plan_batch(cfg, batch, PURPOSE_TRAIN, 5 + i, batches.global_clip_ids)
            _same_plan(plan, direct)
    finally:
        batches.close()


def test_a_plan_for_another_step_is_refused_not_trained_on():
    cfg = small_config(train={"mode": "forward", "initial_mask": "random"})
    data = build_datasets(cfg, master=False)
    batches = TrainBatches(data.train_set, cfg, 0, 0, CPU, cfg.data.batch_size, step=0)
    batch, _, _ = batches.next()
    ids = batches.global_clip_ids
    inputs = prepare_walks(cfg, batch, CPU.device, PURPOSE_TRAIN, 0, ids)
    assert torch.equal(inputs.seed_masks, batch[PLAN_KEY].seed_masks)
    with pytest.raises(RuntimeError, match="planned this batch's walks for step 0"):
        prepare_walks(cfg, batch, CPU.device, PURPOSE_TRAIN, 1, ids)
    with pytest.raises(RuntimeError, match=r"the loop is at step 0 \(purpose 1\)"):
        prepare_walks(cfg, batch, CPU.device, PURPOSE_VAL, 0, ids)
    del batch[PLAN_KEY]  # a batch without a plan (validation's) is planned here
    unplanned = prepare_walks(cfg, batch, CPU.device, PURPOSE_TRAIN, 0, ids)
    assert torch.equal(unplanned.seed_masks, inputs.seed_masks)


@pytest.mark.parametrize("mode", ["forward", "reverse", "fused", "keyframe", "cycle"])
def test_gathered_frames_equal_the_frames_each_walk_visits(mode):
    """gather_frames against an independent loop over walks and transitions; forward walks come
    back as a view of the clips (no copy), the others as a gathered copy."""
    is_key = torch.tensor([[0, 1, 0, 0, 1], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0]], dtype=torch.bool)
    clips = torch.rand(3, 5, 2, 4, 4)
    walks = plan_walks(mode, is_key, [0.2, 0.5, 0.9])
    for index in (walks.src, walks.dst):
        got = gather_frames(clips, walks, index)
        for w in range(walks.count):
            for j in range(walks.transitions):
                c, f = int(walks.clip[w]), int(index[w, j])
                assert torch.equal(got[w, j], clips[c, f])
        assert (got._base is clips) == (mode == "forward")
