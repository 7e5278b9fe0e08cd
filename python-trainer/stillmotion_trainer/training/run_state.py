"""Everything a training step changes and a checkpoint keeps, built from the config.

nanoGPT keeps `model`, `optimizer`, `iter_num`, `best_val_loss` as loose variables of train.py;
here they are the fields of one `RunState` so that building it, restoring it from a checkpoint
and saving it are each one function. `save_checkpoint` is the loop's only checkpoint writer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from stillmotion_trainer.losses.training_loss import LossConfig
from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.models.next_frame import freeze_displacement
from stillmotion_trainer.training import checkpoint as ckpt_io
from stillmotion_trainer.training.config import RunConfig
from stillmotion_trainer.training.distributed import (
    DistContext,
    parameter_digest,
    replica_digests,
)
from stillmotion_trainer.training.events import EventSink
from stillmotion_trainer.training.gan_step import Gan, build_gan
from stillmotion_trainer.training.lr_schedule import TrainingClock, build_scheduler
from stillmotion_trainer.training.stop_conditions import EarlyStopping


@dataclass
class RunState:
    model: nn.Module  # the bare generator: checkpoints, validation
    trained: nn.Module  # G as its step runs it: DDP-wrapped when distributed (distribute)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.cuda.amp.GradScaler  # AMP loss scaling; a no-op when disabled
    gan: Optional[Gan]  # None unless train.gan.enabled
    early: EarlyStopping  # best validation loss and patience
    clock: TrainingClock
    # what the checkpoint records about where the weights came from
    generator_config: GeneratorConfig
    config: dict[str, Any]  # config_to_dict(cfg), as in run_dir/config.json
    loss_config: LossConfig
    # the position: optimiser steps done, completed epochs, batches of this epoch consumed
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0

    @property
    def networks(self) -> list[nn.Module]:
        """What must stay equal on every rank."""
        return [self.model] if self.gan is None else [self.model, self.gan.discriminator]

    def advance(self, batches_per_epoch: int) -> None:
        """One step done: count it and move the data position on (a new epoch at its end)."""
        self.step += 1
        self.batch_in_epoch += 1
        if self.batch_in_epoch == batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0


def build_run_state(
    cfg: RunConfig,
    generator_config: GeneratorConfig,
    config: dict[str, Any],
    device: torch.device,
    use_amp: bool,
) -> RunState:
    """A fresh run: seeded weights (the same on every rank and every run), AdamW, the schedule."""
    torch.manual_seed(cfg.train.seed)
    model = to_training_layout(build_generator(generator_config).to(device))
    if cfg.train.freeze_displacement:  # the match needs no training (models/warp.py)
        freeze_displacement(model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    clock = TrainingClock()
    return RunState(
        model=model,
        trained=model,
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, cfg, clock),
        scaler=torch.cuda.amp.GradScaler(enabled=use_amp),
        gan=build_gan(cfg.train.gan, generator_config.channels, device),
        early=EarlyStopping.from_config(cfg.stop.early_stopping),
        clock=clock,
        generator_config=generator_config,
        config=config,
        loss_config=cfg.loss,
    )


def restore(run: RunState, saved: ckpt_io.Checkpoint, path: Optional[Path]) -> None:
    """Continue where `saved` (read from `path`) left off: weights, optimisers, schedule,
    early stopping, data position, training time and the global random generators."""
    training = saved.training
    if training is None:  # Checkpoint.load(resumable=True) refuses such files
        raise ckpt_io.CheckpointError(str(path), "holds no training state")
    run.model.load_state_dict(saved.model)
    run.optimizer.load_state_dict(training.optimizer)
    run.scheduler.load_state_dict(training.scheduler)
    if training.scaler is not None:
        run.scaler.load_state_dict(training.scaler)
    if run.gan is not None:
        if training.discriminator is None or training.d_optimizer is None:
            raise ckpt_io.CheckpointError(str(path), "train.gan is on, but no GAN state")
        run.gan.discriminator.load_state_dict(training.discriminator)
        run.gan.optimizer.load_state_dict(training.d_optimizer)
    run.early.load_state_dict(training.early_stopping)
    run.step, run.epoch, run.batch_in_epoch = saved.step, training.epoch, training.batch_in_epoch
    run.clock.resume_at(float(training.elapsed_s))
    ckpt_io.set_rng_state(training.rng)


def distribute(run: RunState, ctx: DistContext) -> None:
    """Wrap G (and D) in DistributedDataParallel, which averages gradients over the ranks
    during backward. The bare modules stay for checkpoints, validation and L_adv's frozen pass."""
    if not ctx.enabled:
        return
    device = ctx.device
    kwargs: dict[str, Any] = {"device_ids": [device]} if device.type == "cuda" else {}
    # G(I_t, M^_t, I_{t+1}) keeps the literal generator's mask head unused (no gradient)
    unused = run.generator_config.next_frame_input
    run.trained = DDP(run.model, find_unused_parameters=unused, **kwargs)
    if run.gan is not None:
        run.gan.trained = DDP(run.gan.discriminator, **kwargs)


def to_training_layout(model: nn.Module) -> nn.Module:
    """`model` with its 4-D weights channels-last on the CPU (the values unchanged): oneDNN then
    runs every convolution, forward and backward, in that layout, and a training step of the
    real recipe at 128 px took 1.04 instead of 1.16 s (issue L; docs/training.md). Elsewhere
    `model` as it is. The trainer's step and the benchmarks' bare loops both train this layout."""
    if next(model.parameters()).device.type != "cpu":
        return model
    # torch 1.13's stubs list no memory_format overload of Module.to; the call is documented
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def checked_replica_digests(run: RunState, ctx: DistContext) -> list[str]:
    """parameter_digest of every rank (a collective); RuntimeError if the replicas differ."""
    digests = replica_digests(run.networks, ctx)
    if len(set(digests)) != 1:
        raise RuntimeError(f"step {run.step}: distributed replicas diverged: {digests}")
    return digests


def save_checkpoint(
    run: RunState,
    run_dir: Path,
    keep_last: int,
    events: EventSink,
    *,
    is_best: bool,
    digests: Optional[list[str]] = None,
) -> Path:
    """Write checkpoints/best.pt or step-N.pt (pruning to `keep_last`), then tell `events`."""
    gan = run.gan
    checkpoint = ckpt_io.Checkpoint(
        model=run.model.state_dict(),
        generator_config=dataclasses.asdict(run.generator_config),
        config=run.config,
        step=run.step,
        training=ckpt_io.TrainingState(
            loss_config=dataclasses.asdict(run.loss_config),
            epoch=run.epoch,
            batch_in_epoch=run.batch_in_epoch,
            optimizer=run.optimizer.state_dict(),
            scheduler=run.scheduler.state_dict(),
            scaler=run.scaler.state_dict() if run.scaler.is_enabled() else None,
            discriminator=gan.discriminator.state_dict() if gan is not None else None,
            d_optimizer=gan.optimizer.state_dict() if gan is not None else None,
            early_stopping=run.early.state_dict(),
            best_val=run.early.best,
            elapsed_s=run.clock.elapsed(),
            rng=ckpt_io.rng_state(),
            replica_digests=digests or [parameter_digest(*run.networks)],
        ),
    )
    path = ckpt_io.best_checkpoint_path(run_dir) if is_best else None
    path = path or ckpt_io.step_checkpoint_path(run_dir, run.step)
    checkpoint.save(path)
    if not is_best:
        ckpt_io.prune_step_checkpoints(run_dir, keep_last)
    events.on_checkpoint(run.step, str(path), is_best)
    return path
