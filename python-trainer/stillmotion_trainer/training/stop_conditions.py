"""Stop conditions of METHOD.md step 7 (claim 2) and the early-stopping tracker.

The loop asks `stop_reason` once per step, after the step's bookkeeping. Conditions that only
depend on replicated state (step, epoch, the all-reduced loss, validation) give the same answer
on every distributed rank; the ones that do not (wall clock, STOP file, signal, event sink) are
combined across ranks by the loop before it acts on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

from stillmotion_trainer.training.config import EarlyStoppingConfig, StopConfig
from stillmotion_trainer.training.distributed import DistContext, all_reduce_stats
from stillmotion_trainer.training.events import EventSink
from stillmotion_trainer.training.run_dir import stop_file

# Every end reason the loop can report, in the priority order used when several hold at once.
REASONS = (
    "signal",  # SIGTERM / SIGINT received by the train command
    "stop_requested",  # the event sink's should_stop() returned True
    "stop_file",  # a file named STOP appeared in the run directory
    "max_steps",
    "max_epochs",
    "time_budget",
    "target_loss",
    "early_stopping",
    "collapse",  # train.fail_on_collapse and the masks stopped depending on the input
)


@dataclass
class EarlyStopping:
    """Counts validations without an improvement of more than `min_delta` (lower is better).

    The same notion of improvement picks the best checkpoint, so "best" and "patience" agree.
    """

    patience: Optional[int] = None  # None = never stop early (still tracks the best)
    min_delta: float = 0.0
    best: float = math.inf
    bad_validations: int = 0

    @classmethod
    def from_config(cls, cfg: Optional[EarlyStoppingConfig]) -> "EarlyStopping":
        if cfg is None:
            return cls()
        return cls(patience=cfg.patience, min_delta=cfg.min_delta)

    def update(self, val_loss: float) -> bool:
        """Record a validation loss; True when it is a new best."""
        if val_loss < self.best - self.min_delta:
            self.best = val_loss
            self.bad_validations = 0
            return True
        self.bad_validations += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.bad_validations >= self.patience

    def state_dict(self) -> dict[str, float]:
        return {"best": self.best, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.best = float(state["best"])
        self.bad_validations = int(state["bad_validations"])


def stop_reason(
    cfg: StopConfig,
    *,
    step: int,
    epoch: int,
    elapsed_s: float,
    last_loss: Optional[float],
    early: EarlyStopping,
) -> Optional[str]:
    """The first condition of `cfg` that holds now, or None. `epoch` = completed epochs."""
    if cfg.max_steps is not None and step >= cfg.max_steps:
        return "max_steps"
    if cfg.max_epochs is not None and epoch >= cfg.max_epochs:
        return "max_epochs"
    if cfg.time_budget_s is not None and elapsed_s >= cfg.time_budget_s:
        return "time_budget"
    if cfg.target_loss is not None and last_loss is not None and last_loss <= cfg.target_loss:
        return "target_loss"
    if early.exhausted:
        return "early_stopping"
    return None


def external_reason(
    external_stop: Optional[Callable[[], bool]], events: EventSink, run_dir: Path, master: bool
) -> Optional[str]:
    """A stop asked for from outside: a signal (any rank), the sink or a STOP file (rank 0)."""
    if external_stop is not None and external_stop():
        return "signal"
    if master and events.should_stop():
        return "stop_requested"
    if master and stop_file(run_dir).exists():
        return "stop_file"
    return None


def encode_reason(reason: Optional[str]) -> dict[str, float]:
    """One-hot by name over REASONS (all zeros for None), summed across ranks."""
    return {r: 1.0 if r == reason else 0.0 for r in REASONS}


def decode_reason(flags: Mapping[str, float]) -> Optional[str]:
    """The highest-priority reason any rank raised, or None."""
    for r in REASONS:
        if flags[r] > 0:
            return r
    return None


def agreed_stop_reason(
    mine: Optional[str], elapsed_s: float, ctx: DistContext
) -> tuple[Optional[str], float]:
    """What every rank acts on, from one collective: the highest-priority reason any rank
    raised, and the mean over ranks of their training time (the time-budget schedule's clock)."""
    sums = all_reduce_stats(encode_reason(mine) | {"elapsed_s": elapsed_s}, ctx, op="sum")
    return decode_reason(sums), sums["elapsed_s"] / ctx.world_size
