"""A step's walks, planned where its batch is collated: in the data loader's workers.

What a step feeds G besides the clips — the walks of its input mode (walks.py), their seed
masks (initial_mask.py) and each clip's key frames packed (walks.gather_key_frames) — depends
only on the batch and on (run seed, purpose, step, global clip ids), never on the model. So the
training loader plans it beside the clips: its workers do it while the main process trains on
the previous batch, and the main process only moves the plan to the device
(walk_pass.prepare_walks). Drawing the seed masks and packing the key frames in the loop cost
about 1.4 ms of an 80 ms step (trainer_step_overhead_ratio, issue L).

The loader's batch sampler tags every dataset key with the step it is for (StepTaggedBatches),
the dataset wrapper hands the tag on with the item (StepTagged), and the collate function plans
the batch for that step (PlanningCollate). prepare_walks checks the plan's step against the
loop's, so a loader out of step with the loop fails loudly instead of training on other masks.
Validation, and any batch without a plan, is planned in the main process by the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import torch
from torch.utils.data import Dataset

from stillmotion_trainer.training.config import RunConfig
from stillmotion_trainer.training.initial_mask import initial_masks, key_draws, reseed
from stillmotion_trainer.training.walks import (
    KEYED_MODES,
    Walks,
    gather_key_frames,
    key_frame_index,
    plan_walks,
)
from stillmotion_trainer.training.worker_errors import CarriedError, collate_or_carry

PLAN_KEY = "walk_plan"  # where a planned batch carries its WalkPlan


class PackedKeys(NamedTuple):
    """Each clip's key frames packed to K = max key frames per clip (walks.gather_key_frames)."""

    images: torch.Tensor  # (B, K, C, H, W)
    masks: torch.Tensor  # (B, K, 1, H, W)
    valid: torch.Tensor  # (B, K) bool
    source: torch.Tensor  # (B, K) long, CPU: the frame each slot was taken from


def pack_keys(frames: torch.Tensor, key_masks: torch.Tensor, is_key: torch.Tensor) -> PackedKeys:
    """PackedKeys of a batch, on the frames' device (source on the CPU)."""
    images, masks, valid = gather_key_frames(frames, key_masks, is_key)
    index, _ = key_frame_index(is_key)
    return PackedKeys(images, masks, valid, index)


@dataclass(frozen=True)
class WalkPlan:
    """The walks of one step's batch with their seed masks and packed key frames, on the CPU."""

    step: int
    purpose: int
    walks: Walks
    seed_masks: torch.Tensor  # (W, 1, H, W)
    keys: PackedKeys


def plan_batch(
    cfg: RunConfig,
    batch: dict[str, Any],
    purpose: int,
    step: int,
    global_clip_ids: Sequence[int],
) -> WalkPlan:
    """Plan a collated batch (CPU tensors) for `step`: walks of cfg.train.mode, seed masks of
    cfg.train.initial_mask with cfg.train.reseed_prob, the key frames packed."""
    key_masks, is_key = batch["key_masks"], batch["is_key"]
    seed = cfg.train.seed
    draws = key_draws(seed, purpose, step, global_clip_ids) if cfg.train.mode in KEYED_MODES else []
    walks = plan_walks(cfg.train.mode, is_key, draws)
    seed_masks = initial_masks(
        cfg.train.initial_mask, walks, key_masks, is_key,
        seed=seed, purpose=purpose, step=step, global_clip_ids=global_clip_ids,
    )  # fmt: skip
    seed_masks = reseed(
        seed_masks, cfg.train.reseed_prob, walks,
        seed=seed, purpose=purpose, step=step, global_clip_ids=global_clip_ids,
    )  # fmt: skip
    keys = pack_keys(batch["frames"], key_masks, is_key)
    return WalkPlan(step, purpose, walks, seed_masks, keys)


class StepTaggedBatches:
    """A batch sampler's batches of dataset keys, each key tagged (step, key): batch i is for
    step start_step + i (the loop trains on every batch it draws, in order)."""

    def __init__(self, batches: Iterable[list[Any]], start_step: int) -> None:
        self.batches, self.start_step = batches, start_step

    def __iter__(self) -> Iterator[list[tuple[int, Any]]]:
        for step, keys in enumerate(self.batches, self.start_step):
            yield [(step, key) for key in keys]


class StepTagged(Dataset):  # type: ignore[type-arg]
    """Wraps a map-style dataset: item (step, key) is (step, dataset[key])."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, tagged: tuple[int, Any]) -> tuple[int, Any]:
        step, key = tagged
        return step, self.dataset[key]


class PlanningCollate:
    """collate_or_carry of the items, then the batch planned for their step (plan_batch),
    under PLAN_KEY. Picklable: the loader's worker processes run it."""

    def __init__(self, cfg: RunConfig, purpose: int, global_clip_ids: Sequence[int]) -> None:
        self.cfg, self.purpose, self.global_clip_ids = cfg, purpose, list(global_clip_ids)

    def __call__(self, tagged: Sequence[tuple[int, Any]]) -> Any:
        step = tagged[0][0]
        batch = collate_or_carry([item for _, item in tagged])
        if isinstance(batch, CarriedError):
            return batch
        batch[PLAN_KEY] = plan_batch(self.cfg, batch, self.purpose, step, self.global_clip_ids)
        return batch
