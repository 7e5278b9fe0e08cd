"""The metrics of one step: loss terms and mask statistics averaged over ranks, then timings.

Every rank computes them with one collective (distributed.all_reduce_stats), so every rank sees
the same numbers and takes the same decisions from them (collapse, target loss).
"""

from __future__ import annotations

import math

import torch

from stillmotion_trainer.training.collapse import mask_statistics
from stillmotion_trainer.training.distributed import DistContext, all_reduce_stats
from stillmotion_trainer.training.step import StepResult

LOSS_TERMS = ("total", "image", "mask_first", "mask_second", "adv")
MEAN_MASK_STATS = ("mask_mean", "mask_above_half", "mask_spread")


def step_metrics(result: StepResult, ctx: DistContext, gan: bool) -> dict[str, float]:
    """LOSS_TERMS (+ d_loss with the GAN) and the collapse statistics (training/collapse.py).

    mean over ranks:  x = (sum over ranks of x_r) / world_size, for the losses and
                      MEAN_MASK_STATS; mask_spread is left out when a rank has one walk (NaN);
    mask_key_iou:     (sum of the IoUs of the ranks that landed on a key frame) / (their
                      count), present only when some rank did.
    """
    inputs = result.inputs
    stats = mask_statistics(
        result.walk_batch.pred_masks, inputs.walks.dst, inputs.walks.clip, inputs.key_masks,
        inputs.is_key,
    )  # fmt: skip
    spread_known = not math.isnan(stats["mask_spread"])  # NaN with one walk per rank
    has_iou = not math.isnan(stats["mask_key_iou"])
    # one read of the loss terms (one device sync on CUDA), as mask_statistics reads its four
    losses = torch.stack([result.terms[name].detach().float() for name in LOSS_TERMS]).tolist()
    local = dict(zip(LOSS_TERMS, losses)) | {"d_loss": result.d_loss}
    local |= {name: stats[name] for name in MEAN_MASK_STATS}
    local["mask_spread"] = stats["mask_spread"] if spread_known else 0.0
    local["key_iou_sum"] = stats["mask_key_iou"] if has_iou else 0.0
    local["key_iou_count"] = 1.0 if has_iou else 0.0
    sums = all_reduce_stats(local, ctx, op="sum")
    world = ctx.world_size
    m = {name: sums[name] / world for name in LOSS_TERMS}
    if gan:
        m["d_loss"] = sums["d_loss"] / world
    m |= {name: sums[name] / world for name in MEAN_MASK_STATS if name != "mask_spread"}
    if spread_known:
        m["mask_spread"] = sums["mask_spread"] / world
    if sums["key_iou_count"] > 0:
        m["mask_key_iou"] = sums["key_iou_sum"] / sums["key_iou_count"]
    return m


def timing_metrics(
    lr: float, epoch: int, times: tuple[float, float, float], global_batch: int, clip_len: int
) -> dict[str, float]:
    """lr, epoch and the step's times (t0 before the batch, t1 after it, t2 after the step):
    data_time_s = t1 - t0, step_time_s = t2 - t1, samples_per_s = global_batch / (t2 - t0),
    frames_per_s = global_batch x clip_len / (t2 - t0)."""
    t0, t1, t2 = times
    return {
        "lr": lr,
        "epoch": float(epoch),
        "data_time_s": t1 - t0,
        "step_time_s": t2 - t1,
        "samples_per_s": global_batch / max(t2 - t0, 1e-9),
        "frames_per_s": global_batch * clip_len / max(t2 - t0, 1e-9),
    }
