"""Validation: the mean of each loss term over the validation clips, the same on every rank.

Fixed clips (the first val.max_batches x data.batch_size, sharded over the ranks) and fixed
seed masks (initial_mask.PURPOSE_VAL, step 0), no GAN term and no back-propagation, so two
validations of the same weights give the same numbers and early stopping compares like with like.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import torch
from torch.utils.data import DataLoader

from stillmotion_trainer.data.video_dataset import VideoClipDataset
from stillmotion_trainer.models.factory import takes_next_frame
from stillmotion_trainer.training.config import RunConfig
from stillmotion_trainer.training.data_order import validation_shard
from stillmotion_trainer.training.distributed import DistContext, all_reduce_stats
from stillmotion_trainer.training.initial_mask import PURPOSE_VAL
from stillmotion_trainer.training.walk_pass import (
    prepare_walks,
    run_walks,
    walk_loss,
)
from stillmotion_trainer.training.worker_errors import CarryErrors, collate_or_carry, raise_carried

VAL_TERMS = ("total", "image", "mask_first", "mask_second")


@torch.no_grad()
def validate(
    cfg: RunConfig,
    model: torch.nn.Module,
    val_set: VideoClipDataset,
    ctx: DistContext,
    per_rank_batch: int,
    autocast: Callable[[], Any],
) -> dict[str, float]:
    """Mean of each of VAL_TERMS over the validation clips of every rank, and their count.

    mean_term = (sum over ranks and chunks of term(chunk) x |chunk|) / (number of clips)
    """
    loss_cfg = dataclasses.replace(cfg.loss, lambda_adv=0.0)  # validation has no GAN term
    model.eval()
    items = validation_shard(len(val_set), _val_limit(cfg), ctx.rank, ctx.world_size)
    chunks = [items[i : i + per_rank_batch] for i in range(0, len(items), per_rank_batch)]
    loader = DataLoader(
        CarryErrors(val_set), batch_sampler=chunks, num_workers=cfg.data.num_workers,
        collate_fn=collate_or_carry,
    )  # fmt: skip
    sums = dict.fromkeys(VAL_TERMS, 0.0) | {"clips": 0.0}
    for chunk, carried in zip(chunks, loader):
        batch = raise_carried(carried)
        inputs = prepare_walks(cfg, batch, ctx.device, PURPOSE_VAL, 0, chunk)
        wb = run_walks(model, inputs, 0, autocast, next_frame_input=takes_next_frame(model))
        terms = walk_loss(wb, loss_cfg)
        for name in VAL_TERMS:
            sums[name] += float(terms[name]) * len(chunk)
        sums["clips"] += len(chunk)
    model.train()
    sums = all_reduce_stats(sums, ctx, op="sum")
    n = max(sums["clips"], 1.0)
    return {name: sums[name] / n for name in VAL_TERMS} | {"clips": sums["clips"]}


def validation_due(cfg: RunConfig, step: int, val_set: Optional[VideoClipDataset]) -> bool:
    return val_set is not None and step % cfg.val.every_n_steps == 0


def _val_limit(cfg: RunConfig) -> Optional[int]:
    mb = cfg.val.max_batches
    return None if mb is None else mb * cfg.data.batch_size
