"""The training loop of METHOD.md Fig. 4, one function that reads top to bottom (`train`).

Per step, for every walk of the batch (walks.py gives the frame order of the input mode):

    mask input   = the walk's seed mask (initial_mask.py) where the chain starts, else the mask
                   the model inferred at the previous transition (autoregressive), detached every
                   `train.bptt_window` transitions (truncated back-propagation);
    image input  = always the real frame (teacher forcing);
    (I^, M^)     = G(I_{s_j}, M^_{s_j});
    loss         = losses.training_loss: L_I + L_M1 (inferred mask inputs only) + L_M2 (key
                   frames of the clip) [+ lambda_adv L_adv, discriminator stepped after G].

The step metrics also carry the masks' collapse statistics (training/collapse.py: mean,
fraction > 0.5, spread across the batch, IoU with the key mask at key frames); a collapse is
logged as a warning, and with train.fail_on_collapse ends the run with reason "collapse".
Then the stop conditions (claim 2) are checked. Rank 0 alone writes metrics.jsonl, checkpoints
and events; all ranks take the same decisions from all-reduced values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from stillmotion_trainer.data.manifest import load_manifest, split_by_video
from stillmotion_trainer.data.video_dataset import VideoClipDataset
from stillmotion_trainer.losses.training_loss import LossConfig, training_loss
from stillmotion_trainer.models.discriminator import (
    DiscriminatorConfig,
    PatchDiscriminator,
    discriminator_loss,
    generator_adversarial_loss,
)
from stillmotion_trainer.models.generator import build_generator, count_parameters
from stillmotion_trainer.models.next_frame import freeze_displacement
from stillmotion_trainer.training import checkpoint as ckpt_io
from stillmotion_trainer.training.collapse import CollapseMonitor, mask_statistics
from stillmotion_trainer.training.config import (
    ConfigError,
    RunConfig,
    amp_enabled,
    config_to_dict,
    generator_config_for,
    resume_differences,
)
from stillmotion_trainer.training.data_order import RunBatches, validation_shard
from stillmotion_trainer.training.distributed import (
    DistContext,
    all_reduce_sum,
    barrier,
    init_distributed,
    parameter_digest,
    replica_digests,
    shutdown,
)
from stillmotion_trainer.training.events import EventSink, NullEvents
from stillmotion_trainer.training.initial_mask import (
    PURPOSE_TRAIN,
    PURPOSE_VAL,
    initial_masks,
    key_draws,
    reseed,
)
from stillmotion_trainer.training.key_anchor import anchor_loss, plan_anchors
from stillmotion_trainer.training.metrics_log import MetricsLog
from stillmotion_trainer.training.run_dir import (
    METRICS_NAME,
    atomic_write_json,
    resolve_resume,
    stop_file,
)
from stillmotion_trainer.training.stop_conditions import (
    EarlyStopping,
    decode_reason,
    encode_reason,
    stop_reason,
)
from stillmotion_trainer.training.walks import (
    KEYED_MODES,
    Walks,
    gather_frames,
    gather_key_frames,
    plan_walks,
)
from stillmotion_trainer.training.worker_errors import (
    CarryErrors,
    collate_or_carry,
    raise_carried,
)

LOSS_TERMS = ("total", "image", "mask_first", "mask_second", "adv")


@dataclass
class TrainResult:
    reason: str  # stop_conditions.REASONS
    step: int
    epoch: int
    run_dir: str
    last_checkpoint: Optional[str]
    best_checkpoint: Optional[str]
    best_val: Optional[float]


@dataclass
class WalkBatch:
    """Everything training_loss needs for one batch of walks (W walks, J transitions)."""

    frames_in: torch.Tensor  # (W, J, C, H, W)  real I_{s_j}
    frames_next: torch.Tensor  # (W, J, C, H, W)  real I_{s_{j+1}}
    mask_in: torch.Tensor  # (W, J, 1, H, W)  M^_{s_j} fed to G
    pred_images: torch.Tensor  # (W, J, C, H, W)  I^_{s_{j+1}}
    pred_masks: torch.Tensor  # (W, J, 1, H, W)  M^_{s_{j+1}}
    mask_in_inferred: torch.Tensor  # (W, J) bool
    key_images: torch.Tensor  # (W, K, C, H, W)
    key_masks: torch.Tensor  # (W, K, 1, H, W)
    key_valid: torch.Tensor  # (W, K) bool


def run_walks(
    model: torch.nn.Module,
    frames: torch.Tensor,  # (B, T, C, H, W) real frames of the clips, on the model's device
    key_masks: torch.Tensor,  # (B, T, 1, H, W)
    is_key: torch.Tensor,  # (B, T) bool
    walks: Walks,
    seed_masks: torch.Tensor,  # (W, 1, H, W)
    bptt_window: int,
    autocast: Callable[[], Any] = contextlib.nullcontext,
    next_frame_input: bool = False,
) -> WalkBatch:
    """The generator's pass over every walk of the batch — METHOD.md Fig. 4, steps 1-2.

    next_frame_input: the generator is G(I_t, M^_t, I_{t+1}) (models/next_frame.py), whose mask
    branch also sees the next real frame; it is given I_{s_{j+1}}.
    """
    device = frames.device
    frames_in = gather_frames(frames, walks, walks.src)  # (W, J, C, H, W)
    frames_next = gather_frames(frames, walks, walks.dst)  # (W, J, C, H, W)
    is_seed = walks.seed.to(device)  # (W, J)
    seeds_at = walks.seed.sum(0).tolist()  # per j: how many walks (re)start there (CPU, no sync)
    mask = seed_masks  # (W, 1, H, W)
    mask_ins, pred_images, pred_masks = [], [], []
    for j in range(walks.transitions):
        # 1. mask input: the seed where a chain (re)starts, else the mask inferred at j - 1;
        #    cut the graph every bptt_window transitions (truncated back-propagation)
        if bptt_window and j % bptt_window == 0:
            mask = mask.detach()
        if seeds_at[j] == walks.count:
            mask_in = seed_masks
        elif seeds_at[j] == 0:
            mask_in = mask
        else:  # keyframe walks restart at different transitions
            mask_in = torch.where(is_seed[:, j, None, None, None], seed_masks, mask)
        # 2. G(I_{s_j}, M^_{s_j}) -> (I^_{s_{j+1}}, M^_{s_{j+1}}); the image input is real
        with autocast():
            if next_frame_input:
                next_image, mask = model(frames_in[:, j], mask_in, frames_next[:, j])
            else:
                next_image, mask = model(frames_in[:, j], mask_in)
        next_image, mask = next_image.float(), mask.float()
        mask_ins.append(mask_in)
        pred_images.append(next_image)
        pred_masks.append(mask)
    key_images, key_masks_k, key_valid = gather_key_frames(frames, key_masks, is_key)
    clip = walks.clip.to(device)
    return WalkBatch(
        frames_in=frames_in,
        frames_next=frames_next,
        mask_in=torch.stack(mask_ins, 1),
        pred_images=torch.stack(pred_images, 1),
        pred_masks=torch.stack(pred_masks, 1),
        mask_in_inferred=~is_seed,
        key_images=key_images[clip],
        key_masks=key_masks_k[clip],
        key_valid=key_valid[clip],
    )


def model_takes_next_frame(model: torch.nn.Module) -> bool:
    """True for G(I_t, M^_t, I_{t+1}) (GeneratorConfig.next_frame_input)."""
    cfg = getattr(model, "cfg", None)
    return bool(getattr(cfg, "next_frame_input", False))


def walk_loss(
    wb: WalkBatch, loss_cfg: LossConfig, adv: Optional[torch.Tensor] = None
) -> dict[str, torch.Tensor]:
    """METHOD.md steps 3-6 on a WalkBatch (losses.training_loss)."""
    return training_loss(
        wb.frames_in, wb.frames_next, wb.pred_images, wb.mask_in, wb.pred_masks,
        wb.mask_in_inferred, wb.key_images, wb.key_masks, wb.key_valid, loss_cfg, adv=adv,
    )  # fmt: skip


def prepare_walks(
    cfg: RunConfig,
    batch: dict[str, Any],
    device: torch.device,
    purpose: int,
    step: int,
    global_clip_ids: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Walks, torch.Tensor]:
    """Move a collated batch to `device`, plan its walks and draw their seed masks."""
    frames = batch["frames"].to(device, non_blocking=True)  # (B, T, C, H, W)
    key_masks = batch["key_masks"].to(device, non_blocking=True)  # (B, T, 1, H, W)
    is_key = batch["is_key"]  # (B, T) bool, stays on the CPU for planning
    seed = cfg.train.seed
    draws = key_draws(seed, purpose, step, global_clip_ids) if cfg.train.mode in KEYED_MODES else []
    walks = plan_walks(cfg.train.mode, is_key, draws)
    seed_masks = initial_masks(
        cfg.train.initial_mask, walks, key_masks, is_key.to(device),
        seed=seed, purpose=purpose, step=step, global_clip_ids=global_clip_ids,
    )  # fmt: skip
    seed_masks = reseed(
        seed_masks, cfg.train.reseed_prob, walks,
        seed=seed, purpose=purpose, step=step, global_clip_ids=global_clip_ids,
    )  # fmt: skip
    return frames, key_masks, is_key.to(device), walks, seed_masks


def clips_per_video_for(configured: Optional[int], batch: int, videos: int) -> Optional[int]:
    """data.clips_per_video, raised to ceil(batch / videos) when fewer clips than one global
    batch would be drawn per epoch (a single real video, issue J). Clips are drawn per video
    with replacement, so any count is valid; None (every clip, enumerated) is kept as set."""
    if configured is None or videos < 1 or configured * videos >= batch:
        return configured
    return -(-batch // videos)


def lr_factor(step: int, cfg: RunConfig, elapsed_s: float = 0.0) -> float:
    """Multiplier of train.lr at `step`: linear warm-up, then constant / cosine / linear decay.

    The decay's progress p in [0, 1] is (step - warmup) / (max_steps - warmup) with horizon
    "max_steps", or elapsed_s / stop.time_budget_s with horizon "time_budget" (a run stopped by
    its time budget ends at the low learning rate whatever the machine's speed);
    cosine: r + (1 - r) (1 + cos(pi p)) / 2, linear: 1 - (1 - r) p, r = min_lr_ratio.
    """
    sch, max_steps = cfg.train.scheduler, cfg.stop.max_steps
    if step < sch.warmup_steps:
        return (step + 1) / sch.warmup_steps
    if sch.name == "constant":
        return 1.0
    if sch.horizon == "time_budget":
        budget = cfg.stop.time_budget_s
        if budget is None:
            return 1.0
        progress = min(1.0, elapsed_s / budget)
    elif max_steps is None:
        return 1.0
    else:
        progress = min(1.0, (step - sch.warmup_steps) / max(1, max_steps - sch.warmup_steps))
    if sch.name == "cosine":
        return sch.min_lr_ratio + (1 - sch.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0 - (1.0 - sch.min_lr_ratio) * progress  # linear


@torch.no_grad()
def evaluate(
    cfg: RunConfig,
    model: torch.nn.Module,
    val_set: VideoClipDataset,
    loss_cfg: LossConfig,
    ctx: DistContext,
    per_rank_batch: int,
    autocast: Callable[[], Any],
) -> dict[str, float]:
    """Mean of each loss term over the validation clips (fixed clips and seed masks, no GAN)."""
    model.eval()
    items = validation_shard(len(val_set), _val_limit(cfg), ctx.rank, ctx.world_size)
    chunks = [items[i : i + per_rank_batch] for i in range(0, len(items), per_rank_batch)]
    loader = DataLoader(
        CarryErrors(val_set), batch_sampler=chunks, num_workers=cfg.data.num_workers,
        collate_fn=collate_or_carry,
    )  # fmt: skip
    sums = [0.0] * 5  # total, image, mask_first, mask_second (x clips), clips
    for chunk, carried in zip(chunks, loader):
        batch = raise_carried(carried)
        frames, key_masks, is_key, walks, seed_masks = prepare_walks(
            cfg, batch, ctx.device, PURPOSE_VAL, 0, chunk
        )
        wb = run_walks(
            model, frames, key_masks, is_key, walks, seed_masks, 0, autocast,
            next_frame_input=model_takes_next_frame(model),
        )  # fmt: skip
        terms = walk_loss(wb, loss_cfg)
        for i, name in enumerate(LOSS_TERMS[:4]):
            sums[i] += float(terms[name]) * len(chunk)
        sums[4] += len(chunk)
    model.train()
    sums = all_reduce_sum(sums, ctx)
    n = max(sums[4], 1.0)
    return {name: sums[i] / n for i, name in enumerate(LOSS_TERMS[:4])} | {"clips": sums[4]}


def _val_limit(cfg: RunConfig) -> Optional[int]:
    mb = cfg.val.max_batches
    return None if mb is None else mb * cfg.data.batch_size


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def format_step_line(step: int, m: dict[str, float], gan: bool) -> str:
    """The one fixed form of the human log line."""
    parts = [
        f"step {step}",
        f"total {m['total']:.4f}",
        f"image {m['image']:.4f}",
        f"m1 {m['mask_first']:.4f}",
        f"m2 {m['mask_second']:.4f}",
    ]
    if gan:
        parts += [f"adv {m['adv']:.4f}", f"d {m['d_loss']:.4f}"]
    parts += [f"lr {m['lr']:.3g}", f"{m['samples_per_s']:.1f} samples/s"]
    return " | ".join(parts)


def train(
    cfg: RunConfig,
    *,
    run_dir: Optional[str | Path] = None,
    resume: Optional[str] = None,
    events: Optional[EventSink] = None,
    external_stop: Optional[Callable[[], bool]] = None,
    log: Callable[[str], None] = _stderr,
) -> TrainResult:
    """Train the generator as `cfg` says; returns why and where it stopped.

    run_dir overrides cfg.checkpoint.run_dir. resume: None (fresh run; the run dir must not
    hold one), "auto" (newest checkpoint of the run dir, or fresh if none) or a checkpoint path.
    external_stop is polled once per step (the train command wires SIGTERM/SIGINT to it).
    """
    # 0. distributed context, device, precision ---------------------------------------------
    ctx = init_distributed(cfg.train.device)
    try:
        return _train(cfg, ctx, run_dir, resume, events, external_stop, log)
    except BaseException as err:
        # One report per failed run, whether set-up or a step failed: on_end is for stops only,
        # so nobody mistakes a failure for an ended run.
        if ctx.is_main and events is not None:
            events.on_error(err)
        raise
    finally:
        shutdown(ctx)


def _train(
    cfg: RunConfig,
    ctx: DistContext,
    run_dir_arg: Optional[str | Path],
    resume: Optional[str],
    events_arg: Optional[EventSink],
    external_stop: Optional[Callable[[], bool]],
    log: Callable[[str], None],
) -> TrainResult:
    device, master = ctx.device, ctx.is_main
    events: EventSink = events_arg if (events_arg is not None and master) else NullEvents()
    if not master:
        log = lambda line: None  # noqa: E731 - only rank 0 talks
    use_amp = amp_enabled(cfg.train, device.type)  # ConfigError for amp true off CUDA

    def autocast() -> Any:
        if use_amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    b_global = cfg.data.batch_size
    if b_global % ctx.world_size:
        raise ConfigError(
            [f"data.batch_size: {b_global} is not divisible by the {ctx.world_size} processes"]
        )
    b_rank = b_global // ctx.world_size

    # 1. run directory and resume point --------------------------------------------------------
    run_dir = Path(run_dir_arg or cfg.checkpoint.run_dir).resolve()
    cfg = dataclasses.replace(
        cfg, checkpoint=dataclasses.replace(cfg.checkpoint, run_dir=str(run_dir))
    )
    resume_from = resolve_resume(run_dir, resume)
    barrier(ctx)  # every rank looked at the run dir before rank 0 writes into it
    state: Optional[ckpt_io.Checkpoint] = None
    if resume == "auto" and resume_from is not None:  # newest that loads; broken ones logged
        found = ckpt_io.newest_resumable(run_dir, log)
        resume_from, state = found if found else (None, None)
    elif resume_from is not None:
        state = ckpt_io.Checkpoint.load(resume_from, resumable=True)
    config_dict = config_to_dict(cfg)
    if state is not None:
        diffs = resume_differences(state.config, config_dict)
        if diffs:
            raise ConfigError(
                [f"{d} (a resumed run keeps its config; only stop, log, checkpoint, "
                 "val.max_batches and data.num_workers may change: docs/training.md)"
                 for d in diffs],
                str(resume_from),
            )  # fmt: skip

    # 2. data: a validation split by video, deterministic clip order --------------------------
    manifest = load_manifest(cfg.data.dataset)
    train_ids, val_ids = split_by_video(manifest, cfg.data.val_fraction, cfg.train.seed)
    size = cfg.data.hw()
    require_key = cfg.data.require_key
    clips_per_video = clips_per_video_for(cfg.data.clips_per_video, b_global, len(train_ids))
    if clips_per_video != cfg.data.clips_per_video and master:
        _stderr(
            f"data.clips_per_video: {cfg.data.clips_per_video} clips from each of the "
            f"{len(train_ids)} training video(s) make less than one batch of {b_global}; "
            f"drawing {clips_per_video} per video instead"
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

    # 3. model, optimizer, schedule (and the GAN's discriminator) ------------------------------
    gen_cfg = generator_config_for(cfg, channels=manifest.channels)
    loss_cfg = cfg.loss
    val_loss_cfg = dataclasses.replace(loss_cfg, lambda_adv=0.0)
    torch.manual_seed(cfg.train.seed)  # same initial weights on every rank and every run
    model = build_generator(gen_cfg).to(device)
    if cfg.train.freeze_displacement:  # the match needs no training (models/warp.py)
        freeze_displacement(model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    # a time-budget horizon reads the training time all ranks agreed on at the previous step's
    # stop check (5f), so every rank sets the same learning rate
    clock = {"agreed_elapsed_s": 0.0}
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, cfg, clock["agreed_elapsed_s"])
    )
    scaler = torch.cuda.amp.GradScaler(enabled=use_amp)
    gan = cfg.train.gan
    disc: Optional[torch.nn.Module] = None
    d_optimizer: Optional[torch.optim.Optimizer] = None
    if gan.enabled:
        d_cfg = DiscriminatorConfig(
            channels=gen_cfg.channels,
            base_width=gan.discriminator.base_width,
            depth=gan.discriminator.depth,
        )
        disc = PatchDiscriminator(d_cfg).to(device)
        d_optimizer = torch.optim.AdamW(disc.parameters(), lr=gan.lr, betas=(0.5, 0.999))

    step, epoch, batch_in_epoch, elapsed_before = 0, 0, 0, 0.0
    early = EarlyStopping.from_config(cfg.stop.early_stopping)
    collapse = CollapseMonitor()  # not checkpointed: a resumed run re-counts its streak
    if state is not None and state.training is not None:
        saved = state.training
        model.load_state_dict(state.model)
        optimizer.load_state_dict(saved.optimizer)
        scheduler.load_state_dict(saved.scheduler)
        if saved.scaler is not None:
            scaler.load_state_dict(saved.scaler)
        if disc is not None and d_optimizer is not None:
            if saved.discriminator is None or saved.d_optimizer is None:
                raise ckpt_io.CheckpointError(str(resume_from), "train.gan is on, but no GAN state")
            disc.load_state_dict(saved.discriminator)
            d_optimizer.load_state_dict(saved.d_optimizer)
        early.load_state_dict(saved.early_stopping)
        step, epoch = state.step, saved.epoch
        batch_in_epoch, elapsed_before = saved.batch_in_epoch, float(saved.elapsed_s)
        clock["agreed_elapsed_s"] = elapsed_before
        ckpt_io.set_rng_state(saved.rng)
    # DDP averages gradients over ranks during backward; the raw modules stay for checkpoints,
    # validation and the generator's pass through the frozen discriminator.
    ddp_kwargs: dict[str, Any] = {"device_ids": [device]} if device.type == "cuda" else {}
    # G(I_t, M^_t, I_{t+1}) keeps the literal generator's mask head unused (no gradient)
    g_model = (
        DDP(model, find_unused_parameters=gen_cfg.next_frame_input, **ddp_kwargs)
        if ctx.enabled
        else model
    )
    d_model = DDP(disc, **ddp_kwargs) if (ctx.enabled and disc is not None) else disc
    networks = [model] if disc is None else [model, disc]  # what must stay equal on all ranks

    # 4. what rank 0 writes -----------------------------------------------------------------
    metrics = MetricsLog(run_dir / METRICS_NAME)
    if master:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", config_dict)
        if state is not None:
            metrics.truncate_after(step)  # steps after the checkpoint will run again

    t_start = time.perf_counter()

    def elapsed() -> float:  # training time summed over resumes (the time budget's clock)
        return elapsed_before + time.perf_counter() - t_start

    def save(is_best: bool, digests: Optional[list[str]] = None) -> Path:
        checkpoint = ckpt_io.Checkpoint(
            model=model.state_dict(),
            generator_config=dataclasses.asdict(gen_cfg),
            config=config_dict,
            step=step,
            training=ckpt_io.TrainingState(
                loss_config=dataclasses.asdict(loss_cfg),
                epoch=epoch,
                batch_in_epoch=batch_in_epoch,
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict() if use_amp else None,
                discriminator=disc.state_dict() if disc is not None else None,
                d_optimizer=d_optimizer.state_dict() if d_optimizer is not None else None,
                early_stopping=early.state_dict(),
                best_val=early.best,
                elapsed_s=elapsed(),
                rng=ckpt_io.rng_state(),
                replica_digests=digests or [parameter_digest(*networks)],
            ),
        )
        path = ckpt_io.best_checkpoint_path(run_dir) if is_best else None
        path = path or ckpt_io.step_checkpoint_path(run_dir, step)
        checkpoint.save(path)
        if not is_best:
            ckpt_io.prune_step_checkpoints(run_dir, cfg.checkpoint.keep_last)
        events.on_checkpoint(step, str(path), is_best)
        return path

    def external_reason() -> Optional[str]:
        if external_stop is not None and external_stop():
            return "signal"
        if master and events.should_stop():
            return "stop_requested"
        if master and stop_file(run_dir).exists():
            return "stop_file"
        return None

    events.on_start(
        {
            "run_dir": str(run_dir),
            "config": config_dict,
            "generator_config": dataclasses.asdict(gen_cfg),
            "num_parameters": count_parameters(model),
            "device": str(device),
            "amp": use_amp,
            "world_size": ctx.world_size,
            "start_step": step,
            "resumed_from": str(resume_from) if resume_from else None,
            "train_clips": len(train_set),
            "val_clips": len(val_set) if val_set is not None else 0,
        }
    )
    log(
        f"run {run_dir} | {gen_cfg.variant} generator, {count_parameters(model)} parameters | "
        f"{len(train_set)} train / {len(val_set) if val_set else 0} val clips | {device}"
        f"{' amp' if use_amp else ''} x{ctx.world_size}"
        + (f" | resumed from {resume_from} at step {step}" if resume_from else "")
    )

    # 5. the loop -----------------------------------------------------------------------------
    last_saved: Optional[Path] = None
    last_saved_step = -1
    last_loss: Optional[float] = None
    reason = stop_reason(
        cfg.stop, step=step, epoch=epoch, elapsed_s=elapsed(), last_loss=None, early=early
    )
    # One loader for the whole run (training/data_order.py RunBatches says why), resumed at
    # (epoch, batch_in_epoch); the order is a function of (seed, epoch) only.
    run_batches = RunBatches(
        len(train_set), b_global, cfg.train.seed, epoch, batch_in_epoch, ctx.rank, ctx.world_size
    )
    loader_iter = None
    try:
        while reason is None:
            # 5a. the next batch (the loader's workers start with the first one)
            if loader_iter is None:
                loader_iter = iter(
                    DataLoader(
                        CarryErrors(train_set), batch_sampler=run_batches,
                        num_workers=cfg.data.num_workers, collate_fn=collate_or_carry,
                        pin_memory=device.type == "cuda",
                    )
                )  # fmt: skip
            t0 = time.perf_counter()
            # a dataset problem met in a worker is raised here as itself (worker_errors.py)
            batch = raise_carried(next(loader_iter))
            t1 = time.perf_counter()

            # 5b. generator step: the walks of Fig. 4, the losses of steps 3-6
            global_ids = [ctx.rank * b_rank + i for i in range(b_rank)]
            frames, key_masks, is_key, walks, seed_masks = prepare_walks(
                cfg, batch, device, PURPOSE_TRAIN, step, global_ids
            )
            wb = run_walks(
                g_model, frames, key_masks, is_key, walks, seed_masks,
                cfg.train.bptt_window, autocast, next_frame_input=gen_cfg.next_frame_input,
            )  # fmt: skip
            adv = None
            if disc is not None:
                disc.requires_grad_(False)  # L_adv trains G only
                with autocast():
                    fake_logits = disc(wb.frames_in.flatten(0, 1), wb.pred_images.flatten(0, 1))
                adv = generator_adversarial_loss(fake_logits.float(), gan.loss_kind)
            terms = walk_loss(wb, loss_cfg, adv)
            # key-frame anchor transitions (key_anchor.py): L_M2 of one-step walks onto M_k
            anchors = plan_anchors(
                cfg.train.anchor_prob, key_masks, is_key,
                seed=cfg.train.seed, purpose=PURPOSE_TRAIN, step=step, global_clip_ids=global_ids,
            )  # fmt: skip
            if anchors is not None:
                terms["total"] = terms["total"] + loss_cfg.lambda_m2 * anchor_loss(
                    g_model, frames, key_masks, anchors, loss_cfg.phi, autocast,
                    gen_cfg.next_frame_input,
                )  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms["total"]).backward()
            if cfg.train.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
            scaler.step(optimizer)
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()

            # 5c. discriminator step (GAN on): real (I_t, I_t+1) against fake.detach()
            d_loss_value = 0.0
            if disc is not None and d_model is not None and d_optimizer is not None:
                disc.requires_grad_(True)
                cond = wb.frames_in.flatten(0, 1).detach()  # (W*J, C, H, W)
                real = wb.frames_next.flatten(0, 1)
                fake = wb.pred_images.flatten(0, 1).detach()
                with autocast():  # one forward over [real; fake] so DDP sees one pass
                    logits = d_model(torch.cat([cond, cond]), torch.cat([real, fake])).float()
                real_logits, fake_logits = logits.chunk(2)
                d_loss = discriminator_loss(real_logits, fake_logits, gan.loss_kind)
                d_optimizer.zero_grad(set_to_none=True)
                scaler.scale(d_loss).backward()
                scaler.step(d_optimizer)
                d_loss_value = float(d_loss)
            scaler.update()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t2 = time.perf_counter()

            # 5d. bookkeeping: step, data position, metrics averaged over ranks
            step += 1
            batch_in_epoch += 1
            if batch_in_epoch == run_batches.per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
            stats = mask_statistics(wb.pred_masks, walks.dst, walks.clip, key_masks, is_key)
            iou = stats.pop("mask_key_iou")
            spread_known = not math.isnan(stats["mask_spread"])  # NaN with one walk per rank
            stats["mask_spread"] = stats["mask_spread"] if spread_known else 0.0
            has_iou = not math.isnan(iou)
            local = [float(terms[n]) for n in LOSS_TERMS] + [d_loss_value] + list(stats.values())
            local += [iou if has_iou else 0.0, 1.0 if has_iou else 0.0]
            reduced = all_reduce_sum(local, ctx)
            values = [v / ctx.world_size for v in reduced]
            m = dict(zip(LOSS_TERMS, values[:5]))
            if disc is not None:
                m["d_loss"] = values[5]
            # collapse statistics (training/collapse.py), averaged over ranks like the losses
            m.update(zip(stats, values[6:9]))
            if not spread_known:
                del m["mask_spread"]
            if reduced[10] > 0:  # mask/key IoU only where some transition landed on a key frame
                m["mask_key_iou"] = reduced[9] / reduced[10]
            collapse_warning = collapse.update(step, m)
            if collapse_warning and master:
                log(f"warning: {collapse_warning}")
            m.update(
                lr=lr,
                epoch=float(epoch),
                data_time_s=t1 - t0,
                step_time_s=t2 - t1,
                samples_per_s=b_global / max(t2 - t0, 1e-9),
                frames_per_s=b_global * cfg.data.clip_len / max(t2 - t0, 1e-9),
            )
            last_loss = m["total"]
            if master:
                metrics.write("train", step, m)
                events.on_step(step, m)
                if step % cfg.log.every_n_steps == 0 or step == 1:
                    log(format_step_line(step, m, disc is not None))
                every = cfg.log.preview_every_n_steps
                if every and step % every == 0:
                    n = cfg.log.preview_count
                    events.on_preview(
                        step,
                        wb.pred_images[:n].detach().float().cpu().numpy().astype(np.float32),
                        wb.pred_masks[:n].detach().float().cpu().numpy().astype(np.float32),
                    )

            # 5e. validation, best checkpoint, early-stopping bookkeeping
            if val_set is not None and step % cfg.val.every_n_steps == 0:
                val = evaluate(cfg, model, val_set, val_loss_cfg, ctx, b_rank, autocast)
                improved = early.update(val["total"])
                if master:
                    metrics.write("val", step, val | {"best": early.best})
                    events.on_validation(step, val)
                    log(
                        f"val step {step} | total {val['total']:.4f} | image {val['image']:.4f}"
                        f" | m1 {val['mask_first']:.4f} | m2 {val['mask_second']:.4f}"
                        f" | best {early.best:.4f}{' (new)' if improved else ''}"
                    )
                    if improved:
                        save(is_best=True)

            # 5f. stop conditions (claim 2), agreed on by every rank
            mine_reason = external_reason() or stop_reason(
                cfg.stop, step=step, epoch=epoch, elapsed_s=elapsed(), last_loss=last_loss,
                early=early,
            )  # fmt: skip
            if mine_reason is None and cfg.train.fail_on_collapse and collapse.collapsed:
                mine_reason = "collapse"
            *flags, elapsed_sum = all_reduce_sum(encode_reason(mine_reason) + [elapsed()], ctx)
            reason = decode_reason(flags)
            clock["agreed_elapsed_s"] = elapsed_sum / ctx.world_size
            every = cfg.checkpoint.every_n_steps
            if reason is not None or (every and step % every == 0):
                digests = replica_digests(networks, ctx)  # every rank, before rank 0 writes
                if len(set(digests)) != 1:
                    raise RuntimeError(f"step {step}: distributed replicas diverged: {digests}")
                if master:
                    last_saved, last_saved_step = save(is_best=False, digests=digests), step
    except BaseException:
        # train() reports the failure (on_error, never on_end). A full disk also fails the
        # close; that second error must not hide the first.
        with contextlib.suppress(OSError):
            metrics.close()
        raise
    loader_iter = None  # shuts the loader's workers down before the final checkpoint

    # 6. the end: final checkpoint (if the loop did not just write one), report --------------
    assert reason is not None
    if master:
        if last_saved_step != step:  # e.g. resumed at a step where a stop condition holds
            existing = ckpt_io.step_checkpoint_path(run_dir, step)
            last_saved = existing if existing.exists() else save(is_best=False)
        if reason == "stop_file":
            stop_file(run_dir).unlink(missing_ok=True)  # the request has been acted on
        metrics.close()
        log(f"end step {step} | reason {reason} | elapsed {elapsed():.1f} s")
        events.on_end(step, reason)
    best = ckpt_io.best_checkpoint_path(run_dir)
    return TrainResult(
        reason=reason,
        step=step,
        epoch=epoch,
        run_dir=str(run_dir),
        last_checkpoint=str(last_saved) if last_saved else None,
        best_checkpoint=str(best) if best.exists() else None,
        best_val=early.best if math.isfinite(early.best) else None,
    )
