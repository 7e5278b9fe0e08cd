"""Where a run starts: its run directory, and the checkpoint it resumes from (if any).

A resumed run keeps its config: only stop, log, checkpoint, val.max_batches and
data.num_workers may differ from the checkpoint's (config.resume_differences, docs/training.md).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Optional

from stillmotion_trainer.training import checkpoint as ckpt_io
from stillmotion_trainer.training.config import ConfigError, RunConfig, resume_differences
from stillmotion_trainer.training.distributed import DistContext, barrier
from stillmotion_trainer.training.run_dir import resolve_resume


def bind_run_dir(cfg: RunConfig, run_dir: Optional[str | Path]) -> tuple[RunConfig, Path]:
    """The absolute run dir (`run_dir` overrides checkpoint.run_dir), written into the config."""
    resolved = Path(run_dir or cfg.checkpoint.run_dir).resolve()
    checkpoint = dataclasses.replace(cfg.checkpoint, run_dir=str(resolved))
    return dataclasses.replace(cfg, checkpoint=checkpoint), resolved


def load_resume_point(
    run_dir: Path,
    resume: Optional[str],
    config: dict,
    ctx: DistContext,
    log: Callable[[str], None],
) -> tuple[Optional[Path], Optional[ckpt_io.Checkpoint]]:
    """(path, checkpoint) to resume from, or (None, None) for a fresh run.

    resume: None (fresh; the run dir must not hold a run), "auto" (the newest step checkpoint
    that loads, broken ones logged and skipped; fresh if there is none) or a checkpoint path.
    A ConfigError lists every way `config` differs from the checkpoint's beyond what may change.
    """
    resume_from = resolve_resume(run_dir, resume)
    barrier(ctx)  # every rank looked at the run dir before rank 0 writes into it
    state: Optional[ckpt_io.Checkpoint] = None
    if resume == "auto" and resume_from is not None:
        found = ckpt_io.newest_resumable(run_dir, log)
        resume_from, state = found if found else (None, None)
    elif resume_from is not None:
        state = ckpt_io.Checkpoint.load(resume_from, resumable=True)
    if state is not None:
        diffs = resume_differences(state.config, config)
        if diffs:
            raise ConfigError(
                [f"{d} (a resumed run keeps its config; only stop, log, checkpoint, "
                 "val.max_batches and data.num_workers may change: docs/training.md)"
                 for d in diffs],
                str(resume_from),
            )  # fmt: skip
    return resume_from, state
