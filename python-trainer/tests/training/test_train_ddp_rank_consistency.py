"""Fast, single-process checks of what DDP needs from the networks and the walks' randomness.

test_train_ddp_recipes.py runs the real thing (torchrun, 2 processes); these pin the two causes
down in milliseconds.
"""

from __future__ import annotations

import pytest
import torch
import yaml
from test_train_ddp_recipes import RECIPES

from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training.initial_mask import (
    PURPOSE_TRAIN,
    initial_masks,
    key_draws,
    reseed,
)
from stillmotion_trainer.training.walks import plan_walks


def recipe_generator(name: str) -> torch.nn.Module:
    overrides = yaml.safe_load(RECIPES[name].read_text())["model"].get("overrides", {})
    torch.manual_seed(0)
    return build_generator(generator_config("tiny", channels=3, **overrides))


def ddp_buffer_broadcast(module: torch.nn.Module) -> None:
    """What DistributedDataParallel(broadcast_buffers=True) does before every forward: copy
    rank 0's buffers into every rank's, in place (a version bump for autograd)."""
    with torch.no_grad():
        for buffer in module.buffers():
            buffer.copy_(buffer.clone())


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_two_forwards_and_one_backward_survive_the_buffer_broadcast(name):
    """A walk calls G several times before its one backward; DDP rewrites buffers in between.
    The warp head's displacement grids were buffers that autograd saved (issue L point 5:
    'modified by an inplace operation: [torch.FloatTensor [2, 9, 1, 1]]')."""
    model = recipe_generator(name)
    g = torch.Generator().manual_seed(1)
    image, nxt = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    mask = (torch.rand(2, 1, 32, 32, generator=g) > 0.5).float()
    takes_next = model.cfg.next_frame_input
    inputs = (image, mask, nxt) if takes_next else (image, mask)
    ddp_buffer_broadcast(model)
    _, first = model(*inputs)
    ddp_buffer_broadcast(model)
    _, second = model(*((nxt, first, image) if takes_next else (nxt, first)))
    (first.mean() + second.mean()).backward()


def test_networks_have_no_buffers_to_broadcast():
    """No shipped network keeps state in buffers (no BatchNorm statistics; the displacement
    grids are plain constants), so DDP syncs nothing per forward: a collective saved per call."""
    for name in RECIPES:
        assert [n for n, _ in recipe_generator(name).named_buffers()] == [], name


@pytest.mark.parametrize("mode, kind", [("cycle", "keyframe"), ("keyframe", "keyframe"),
                                        ("fused", "random")])  # fmt: skip
def test_each_rank_draws_the_seed_masks_one_process_draws_for_its_clips(mode, kind):
    """Key-frame picks, random seeds and reseeding depend on (seed, step, global clip index),
    so rank r's half of the global batch gets exactly the masks one process gives those clips."""
    g = torch.Generator().manual_seed(2)
    key_masks = (torch.rand(4, 5, 1, 16, 16, generator=g) > 0.5).float()  # (B, T, 1, H, W)
    is_key = torch.zeros(4, 5, dtype=torch.bool)
    is_key[:, 1] = is_key[:, 3] = True

    def seeds(clips: list[int], reseed_prob: float) -> dict[tuple[int, int], torch.Tensor]:
        """Seed mask of each walk over `clips` (global indices) as a rank computes them, by
        (global clip, direction): fused walks are listed direction-major, not clip-major."""
        draws = key_draws(7, PURPOSE_TRAIN, 5, clips) if mode != "fused" else []
        walks = plan_walks(mode, is_key[clips], draws)
        at = {"seed": 7, "purpose": PURPOSE_TRAIN, "step": 5, "global_clip_ids": clips}
        masks = initial_masks(kind, walks, key_masks[clips], is_key[clips], **at)
        masks = reseed(masks, reseed_prob, walks, **at)
        keys = zip(walks.clip.tolist(), walks.direction.tolist())
        return {(clips[c], d): m for (c, d), m in zip(keys, masks)}

    def same(a: dict, b: dict) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    one = seeds([0, 1, 2, 3], 0.5)
    assert same(one, seeds([0, 1], 0.5) | seeds([2, 3], 0.5))
    # reseeding did swap some seeds of this batch, so the comparison above covers its draws
    assert not same(one, seeds([0, 1, 2, 3], 0.0))
