"""The training and validation clips of a run: a split by video, deterministic clip order.

The validation videos are drawn by data.val_fraction and train.seed (data/manifest.py), so no
clip of a validation video is ever trained on; which batch of clips each rank reads at each step
is data_order.py's job.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from torch.utils.data import DataLoader

from stillmotion_trainer.data.manifest import Manifest, load_manifest, split_by_video
from stillmotion_trainer.data.video_dataset import VideoClipDataset
from stillmotion_trainer.training.config import ConfigError, RunConfig
from stillmotion_trainer.training.data_order import RunBatches
from stillmotion_trainer.training.distributed import DistContext
from stillmotion_trainer.training.initial_mask import PURPOSE_TRAIN
from stillmotion_trainer.training.walk_plan import PlanningCollate, StepTagged, StepTaggedBatches
from stillmotion_trainer.training.worker_errors import CarryErrors, raise_carried


@dataclass
class TrainingData:
    manifest: Manifest
    train_set: VideoClipDataset
    val_set: Optional[VideoClipDataset]  # None without validation videos or val.every_n_steps


def rank_batch_size(cfg: RunConfig, ctx: DistContext) -> int:
    """data.batch_size / world_size; a ConfigError unless it divides evenly."""
    b_global = cfg.data.batch_size
    if b_global % ctx.world_size:
        raise ConfigError(
            [f"data.batch_size: {b_global} is not divisible by the {ctx.world_size} processes"]
        )
    return b_global // ctx.world_size


def clips_per_video_for(configured: Optional[int], batch: int, videos: int) -> Optional[int]:
    """data.clips_per_video, raised to ceil(batch / videos) when fewer clips than one global
    batch would be drawn per epoch (a single real video, issue J). Clips are drawn per video
    with replacement, so any count is valid; None (every clip, enumerated) is kept as set."""
    if configured is None or videos < 1 or configured * videos >= batch:
        return configured
    return -(-batch // videos)


def build_datasets(cfg: RunConfig, master: bool) -> TrainingData:
    """Load the manifest, split it by video and open both clip datasets."""
    b_global = cfg.data.batch_size
    manifest = load_manifest(cfg.data.dataset)
    train_ids, val_ids = split_by_video(manifest, cfg.data.val_fraction, cfg.train.seed)
    size = cfg.data.hw()
    require_key = cfg.data.require_key
    clips_per_video = clips_per_video_for(cfg.data.clips_per_video, b_global, len(train_ids))
    if clips_per_video != cfg.data.clips_per_video and master:
        print(
            f"data.clips_per_video: {cfg.data.clips_per_video} clips from each of the "
            f"{len(train_ids)} training video(s) make less than one batch of {b_global}; "
            f"drawing {clips_per_video} per video instead",
            file=sys.stderr,
            flush=True,
        )
    train_set = VideoClipDataset(
        manifest, train_ids, size, cfg.data.clip_len, augment=cfg.data.augment,
        seed=cfg.train.seed, clips_per_video=clips_per_video, require_key=require_key,
    )  # fmt: skip
    val_set = None
    if val_ids and cfg.val.every_n_steps > 0:
        val_set = VideoClipDataset(
            manifest, val_ids, size, cfg.data.clip_len, augment=False, seed=cfg.train.seed,
            clips_per_video=cfg.data.clips_per_video, require_key=require_key,
        )  # fmt: skip
    if len(train_set) < b_global:
        raise ConfigError(
            [f"data.batch_size: {b_global} is more than the {len(train_set)} training clips "
             f"of {cfg.data.dataset}; lower it or raise data.clips_per_video"]
        )  # fmt: skip
    return TrainingData(manifest, train_set, val_set)


class TrainBatches:
    """This rank's share of the run's batches, from one loader for the whole run (data_order.py
    says why), resumed at (epoch, batch_in_epoch) and step `step`; the order is a function of
    (seed, epoch). Each batch comes with its walks planned for its step (walk_plan.py), by the
    loader's workers: batch i is for step `step` + i."""

    def __init__(
        self,
        train_set: VideoClipDataset,
        cfg: RunConfig,
        epoch: int,
        batch_in_epoch: int,
        ctx: DistContext,
        rank_batch: int,
        step: int,
    ) -> None:
        self.train_set, self.num_workers, self.device = train_set, cfg.data.num_workers, ctx.device
        self.order = RunBatches(
            len(train_set), cfg.data.batch_size, cfg.train.seed, epoch, batch_in_epoch,
            ctx.rank, ctx.world_size,
        )  # fmt: skip
        self.global_clip_ids = [ctx.rank * rank_batch + i for i in range(rank_batch)]
        self.collate = PlanningCollate(cfg, PURPOSE_TRAIN, self.global_clip_ids)
        self.start_step = step
        self._batches: Optional[Iterator[Any]] = None

    @property
    def per_epoch(self) -> int:
        return self.order.per_epoch

    def next(self) -> tuple[dict[str, Any], float, float]:
        """(batch, t0, t1): the next batch and the clock just before and after waiting for it.
        The loader's workers start at the first call, before t0. A dataset problem met in a
        worker is raised here as itself (worker_errors.py)."""
        if self._batches is None:
            self._batches = iter(
                DataLoader(
                    StepTagged(CarryErrors(self.train_set)),
                    batch_sampler=StepTaggedBatches(self.order, self.start_step),
                    num_workers=self.num_workers, collate_fn=self.collate,
                    pin_memory=self.device.type == "cuda",
                )
            )  # fmt: skip
        t0 = time.perf_counter()
        batch = raise_carried(next(self._batches))
        return batch, t0, time.perf_counter()

    def close(self) -> None:
        """Shut the loader's workers down."""
        self._batches = None
