"""The event sink the training loop reports to (the server's ZeroMQ/gRPC sink implements it).

Every hook does nothing by default (Lightning-callback style), so a sink overrides only what it
needs. The loop calls the sink on rank 0 only, from the training thread, and never lets a sink
decide anything except through `should_stop`. Durable metrics do not depend on the sink: the
loop writes run_dir/metrics.jsonl itself.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EventSink(Protocol):
    """What the training loop tells the outside world; subclass and override what you need."""

    def on_start(self, run_info: Mapping[str, Any]) -> None:
        """Once, before the first step: run_dir, config, generator_config, device, start_step..."""
        return None

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        """After every step: each loss term, lr, samples_per_s, data_time_s, step_time_s."""
        return None

    def on_preview(self, step: int, images: np.ndarray, masks: np.ndarray) -> None:
        """Predicted frames (N, J, C, H, W) and masks (N, J, 1, H, W), float32 in [0, 1]."""
        return None

    def on_checkpoint(self, step: int, path: str, is_best: bool) -> None:
        """After a checkpoint file is in place (atomically)."""
        return None

    def on_validation(self, step: int, metrics: Mapping[str, float]) -> None:
        """After each validation: the mean of each loss term over the validation clips."""
        return None

    def on_end(self, step: int, reason: str) -> None:
        """Once, after the final checkpoint; `reason` is one of stop_conditions.REASONS."""
        return None

    def on_error(self, error: BaseException) -> None:
        """Once, instead of on_end, when the run fails (set-up or a step): the exception."""
        return None

    def should_stop(self) -> bool:
        """Polled once per step: True asks the loop to finish the step, checkpoint and end."""
        return False


class NullEvents(EventSink):
    """The sink that ignores everything (the default, and what ranks other than 0 use)."""


class RecordingEvents(EventSink):
    """Keeps every call in `calls` as (name, args); for tests and benchmarks."""

    def __init__(self, stop_after_steps: int | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.stop_after_steps = stop_after_steps
        self.steps_seen = 0

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def on_start(self, run_info: Mapping[str, Any]) -> None:
        self._record("on_start", dict(run_info))

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        self.steps_seen += 1
        self._record("on_step", step, dict(metrics))

    def on_preview(self, step: int, images: np.ndarray, masks: np.ndarray) -> None:
        self._record("on_preview", step, images, masks)

    def on_checkpoint(self, step: int, path: str, is_best: bool) -> None:
        self._record("on_checkpoint", step, path, is_best)

    def on_validation(self, step: int, metrics: Mapping[str, float]) -> None:
        self._record("on_validation", step, dict(metrics))

    def on_end(self, step: int, reason: str) -> None:
        self._record("on_end", step, reason)

    def on_error(self, error: BaseException) -> None:
        self._record("on_error", error)

    def should_stop(self) -> bool:
        return self.stop_after_steps is not None and self.steps_seen >= self.stop_after_steps

    def named(self, name: str) -> list[tuple[Any, ...]]:
        """The argument tuples of every call of hook `name`, in order."""
        return [args for n, args in self.calls if n == name]
