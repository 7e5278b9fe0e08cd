"""The training loop of METHOD.md Fig. 4: `train`, read top to bottom like nanoGPT's train.py.

Set-up (run dir and resume point, data, model and optimisers), then one `while` loop:

    batch -> forward and losses -> backward and step      (step.py: walks, GAN, anchors)
          -> metrics averaged over ranks, collapse check  (step_metrics.py, collapse.py)
          -> log, validate, best checkpoint               (run_report.py, validation.py)
          -> stop conditions agreed on by every rank, checkpoint (stop_conditions.py)

Per step, for every walk of the batch (walks.py gives the frame order of the input mode):

    mask input   = the walk's seed mask (initial_mask.py) where the chain starts, else the mask
                   the model inferred at the previous transition (autoregressive), detached every
                   `train.bptt_window` transitions (truncated back-propagation);
    image input  = always the real frame (teacher forcing);
    (I^, M^)     = G(I_{s_j}, M^_{s_j});
    loss         = losses.training_loss: L_I + L_M1 (inferred mask inputs only) + L_M2 (key
                   frames of the clip) [+ lambda_adv L_adv, discriminator stepped after G].

A collapse of the masks is logged as a warning, and with train.fail_on_collapse ends the run
with reason "collapse". Rank 0 alone writes metrics.jsonl, checkpoints and events; all ranks
take the same decisions from all-reduced values.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from stillmotion_trainer.training import checkpoint as ckpt_io
from stillmotion_trainer.training.collapse import CollapseMonitor
from stillmotion_trainer.training.config import (
    RunConfig,
    amp_enabled,
    config_to_dict,
    generator_config_for,
)
from stillmotion_trainer.training.data_setup import TrainBatches, build_datasets, rank_batch_size
from stillmotion_trainer.training.distributed import DistContext, init_distributed, shutdown
from stillmotion_trainer.training.events import EventSink, NullEvents
from stillmotion_trainer.training.host_memory import keep_freed_memory
from stillmotion_trainer.training.resume import bind_run_dir, load_resume_point
from stillmotion_trainer.training.run_dir import stop_file
from stillmotion_trainer.training.run_report import RunReport
from stillmotion_trainer.training.run_state import (
    RunState,
    build_run_state,
    checked_replica_digests,
    distribute,
    restore,
    save_checkpoint,
)
from stillmotion_trainer.training.step import train_step
from stillmotion_trainer.training.step_metrics import step_metrics, timing_metrics
from stillmotion_trainer.training.stop_conditions import (
    agreed_stop_reason,
    external_reason,
    stop_reason,
)
from stillmotion_trainer.training.validation import validate, validation_due


@dataclass
class TrainResult:
    reason: str  # stop_conditions.REASONS
    step: int
    epoch: int
    run_dir: str
    last_checkpoint: Optional[str]
    best_checkpoint: Optional[str]
    best_val: Optional[float]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _silent(line: str) -> None:
    """The log of ranks other than 0: only rank 0 talks."""


def autocast_for(use_amp: bool) -> Callable[[], Any]:
    """A context factory: float16 autocast on CUDA with AMP, else a no-op."""

    def autocast() -> Any:
        if use_amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    return autocast


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
    # 0. host memory kept for reuse between steps (host_memory.py), distributed context, device
    keep_freed_memory()
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
    log = log if master else _silent
    use_amp = amp_enabled(cfg.train, device.type)  # ConfigError for amp true off CUDA
    autocast = autocast_for(use_amp)
    b_rank = rank_batch_size(cfg, ctx)  # ConfigError unless the ranks split the batch evenly

    # 1. run directory and resume point (resume.py) -------------------------------------------
    cfg, run_dir = bind_run_dir(cfg, run_dir_arg)
    config = config_to_dict(cfg)
    resume_from, saved = load_resume_point(run_dir, resume, config, ctx, log)
    # 2. data: a validation split by video, deterministic clip order (data_setup.py) ----------
    data = build_datasets(cfg, master)
    # 3. model, optimisers, schedule, GAN; restored on resume, then wrapped in DDP (run_state.py)
    gen_cfg = generator_config_for(cfg, channels=data.manifest.channels)
    run = build_run_state(cfg, gen_cfg, config, device, use_amp)
    if saved is not None:
        restore(run, saved, resume_from)
    distribute(run, ctx)
    collapse = CollapseMonitor()  # not checkpointed: a resumed run re-counts its streak
    # 4. what rank 0 writes (run_report.py) ---------------------------------------------------
    report = RunReport(run_dir, master, events, log, cfg.log)
    report.open(config, resumed_at=run.step if saved is not None else None)
    run.clock.start()
    report.start(run, data, ctx, use_amp, resume_from)
    save = functools.partial(save_checkpoint, run, run_dir, cfg.checkpoint.keep_last, events)

    # 5. the loop -----------------------------------------------------------------------------
    last_saved_step = -1
    reason = _stop_condition(cfg, run, last_loss=None)
    batches = TrainBatches(
        data.train_set, cfg, run.epoch, run.batch_in_epoch, ctx, b_rank, step=run.step
    )
    with report.metrics_closed_on_failure():
        while reason is None:
            # 5a. the next batch; forward, losses, backward, G's (and D's) step (step.py)
            batch, t0, t1 = batches.next()
            result = train_step(run, cfg, batch, batches.global_clip_ids, device, autocast)
            t2 = time.perf_counter()
            run.advance(batches.per_epoch)
            # 5b. metrics averaged over ranks, collapse check, metrics.jsonl / events / log
            m = step_metrics(result, ctx, gan=run.gan is not None)
            collapse_warning = collapse.update(run.step, m)
            if collapse_warning:
                log(f"warning: {collapse_warning}")
            m |= timing_metrics(result.lr, run.epoch, (t0, t1, t2), cfg.data.batch_size,
                                cfg.data.clip_len)  # fmt: skip
            report.step(run.step, m, result.walk_batch, gan=run.gan is not None)
            # 5c. validation, best checkpoint, early-stopping bookkeeping (validation.py)
            if data.val_set is not None and validation_due(cfg, run.step, data.val_set):
                val = validate(cfg, run.model, data.val_set, ctx, b_rank, autocast)
                improved = run.early.update(val["total"])
                report.validation(run.step, val, run.early.best, improved)
                if improved and master:
                    save(is_best=True)
            # 5d. stop conditions (claim 2), agreed on by every rank; checkpoint
            mine = external_reason(external_stop, events, run_dir, master)
            mine = mine or _stop_condition(cfg, run, last_loss=m["total"])
            if mine is None and cfg.train.fail_on_collapse and collapse.collapsed:
                mine = "collapse"
            reason, run.clock.agreed_s = agreed_stop_reason(mine, run.clock.elapsed(), ctx)
            every = cfg.checkpoint.every_n_steps
            if reason is not None or (every and run.step % every == 0):
                digests = checked_replica_digests(run, ctx)  # every rank, before rank 0 writes
                if master:
                    save(is_best=False, digests=digests)
                    last_saved_step = run.step
    batches.close()  # shuts the loader's workers down before the final checkpoint
    return _finish(run, run_dir, reason, last_saved_step, report, save)


def _stop_condition(cfg: RunConfig, run: RunState, last_loss: Optional[float]) -> Optional[str]:
    """The first stop condition of cfg.stop that holds now (stop_conditions.stop_reason)."""
    return stop_reason(
        cfg.stop, step=run.step, epoch=run.epoch, elapsed_s=run.clock.elapsed(),
        last_loss=last_loss, early=run.early,
    )  # fmt: skip


def _finish(
    run: RunState,
    run_dir: Path,
    reason: Optional[str],
    last_saved_step: int,
    report: RunReport,
    save: Callable[..., Path],
) -> TrainResult:
    """The end: a final checkpoint unless the loop just wrote one, the STOP file acted on,
    the report closed; says why and where the run stopped."""
    assert reason is not None  # the loop ends only with a reason
    last_saved: Optional[Path] = None
    if report.master:
        last_saved = ckpt_io.step_checkpoint_path(run_dir, run.step)
        # e.g. resumed at a step where a stop condition holds: that step's file is the last
        if last_saved_step != run.step and not last_saved.exists():
            last_saved = save(is_best=False)
        if reason == "stop_file":
            stop_file(run_dir).unlink(missing_ok=True)  # the request has been acted on
    report.end(run.step, reason, run.clock.elapsed())
    best = ckpt_io.best_checkpoint_path(run_dir)
    return TrainResult(
        reason=reason,
        step=run.step,
        epoch=run.epoch,
        run_dir=str(run_dir),
        last_checkpoint=str(last_saved) if last_saved else None,
        best_checkpoint=str(best) if best.exists() else None,
        best_val=run.early.best if math.isfinite(run.early.best) else None,
    )
