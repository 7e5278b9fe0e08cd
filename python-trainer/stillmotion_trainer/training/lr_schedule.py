"""The learning-rate schedule and the training clock it (and the time budget) reads.

`lr_factor` multiplies train.lr at each step. With the "time_budget" horizon it reads the
training time all ranks agreed on at the previous step's stop check (`TrainingClock.agreed_s`),
so every rank sets the same learning rate whatever its own clock says.
"""

from __future__ import annotations

import math
import time
from typing import Optional

import torch

from stillmotion_trainer.training.config import RunConfig


class TrainingClock:
    """Training wall-clock time summed over resumes: the time budget's clock."""

    def __init__(self) -> None:
        self.before_s = 0.0  # training time of the runs this one resumes
        self.agreed_s = 0.0  # the elapsed time all ranks agreed on at the last stop check
        self._started: Optional[float] = None

    def resume_at(self, elapsed_s: float) -> None:
        self.before_s = self.agreed_s = elapsed_s

    def start(self) -> None:
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        """before_s + the time since start() (0 before it)."""
        since = 0.0 if self._started is None else time.perf_counter() - self._started
        return self.before_s + since


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


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: RunConfig, clock: TrainingClock
) -> torch.optim.lr_scheduler.LambdaLR:
    """train.lr x lr_factor(step), the time-budget horizon read from the agreed clock."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg, clock.agreed_s))
