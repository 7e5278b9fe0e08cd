"""What a run tells the outside world, from rank 0 only: files, events and log lines.

    run_dir/config.json     the resolved config, frozen at start (run_dir.py)
    run_dir/metrics.jsonl   one line per step and per validation (metrics_log.py)
    the event sink          on_start, on_step, on_preview, on_validation, on_end (events.py)
    the human log           one fixed form per kind of line (`format_step_line`, ...)

On other ranks every method does nothing, so the loop calls them unconditionally.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from stillmotion_trainer.models.factory import count_parameters
from stillmotion_trainer.training.config import LogConfig
from stillmotion_trainer.training.data_setup import TrainingData
from stillmotion_trainer.training.distributed import DistContext
from stillmotion_trainer.training.events import EventSink
from stillmotion_trainer.training.metrics_log import MetricsLog
from stillmotion_trainer.training.run_dir import METRICS_NAME, atomic_write_json
from stillmotion_trainer.training.run_state import RunState
from stillmotion_trainer.training.walk_pass import WalkBatch


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


def format_val_line(step: int, val: dict[str, float], best: float, improved: bool) -> str:
    """The one fixed form of the validation log line."""
    return (
        f"val step {step} | total {val['total']:.4f} | image {val['image']:.4f}"
        f" | m1 {val['mask_first']:.4f} | m2 {val['mask_second']:.4f}"
        f" | best {best:.4f}{' (new)' if improved else ''}"
    )


class RunReport:
    """Rank 0's metrics.jsonl, event sink and log; `master` False makes every method a no-op."""

    def __init__(
        self,
        run_dir: Path,
        master: bool,
        events: EventSink,
        log: Callable[[str], None],
        log_cfg: LogConfig,
    ) -> None:
        self.run_dir, self.master, self.events, self.log = run_dir, master, events, log
        self.log_cfg = log_cfg
        self.metrics = MetricsLog(run_dir / METRICS_NAME)

    def open(self, config: dict, resumed_at: Optional[int]) -> None:
        """Create the run dir, freeze config.json; on resume drop the metrics of later steps
        (they will run again)."""
        if not self.master:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.run_dir / "config.json", config)
        if resumed_at is not None:
            self.metrics.truncate_after(resumed_at)

    def start(
        self,
        run: RunState,
        data: TrainingData,
        ctx: DistContext,
        use_amp: bool,
        resume_from: Optional[Path],
    ) -> None:
        """on_start with the run's facts, and the one-line summary."""
        if not self.master:
            return
        parameters = count_parameters(run.model)
        val_clips = len(data.val_set) if data.val_set is not None else 0
        self.events.on_start(
            {
                "run_dir": str(self.run_dir),
                "config": run.config,
                "generator_config": dataclasses.asdict(run.generator_config),
                "num_parameters": parameters,
                "device": str(ctx.device),
                "amp": use_amp,
                "world_size": ctx.world_size,
                "start_step": run.step,
                "resumed_from": str(resume_from) if resume_from else None,
                "train_clips": len(data.train_set),
                "val_clips": val_clips,
            }
        )
        self.log(
            f"run {self.run_dir} | {run.generator_config.variant} generator, {parameters} "
            f"parameters | {len(data.train_set)} train / {val_clips} val clips | {ctx.device}"
            f"{' amp' if use_amp else ''} x{ctx.world_size}"
            + (f" | resumed from {resume_from} at step {run.step}" if resume_from else "")
        )

    def step(self, step: int, m: dict[str, float], wb: WalkBatch, gan: bool) -> None:
        """metrics.jsonl and on_step every step; the log line every log.every_n_steps (and at
        step 1); previews every log.preview_every_n_steps."""
        if not self.master:
            return
        self.metrics.write("train", step, m)
        self.events.on_step(step, m)
        if step % self.log_cfg.every_n_steps == 0 or step == 1:
            self.log(format_step_line(step, m, gan))
        every = self.log_cfg.preview_every_n_steps
        if every and step % every == 0:
            n = self.log_cfg.preview_count
            self.events.on_preview(
                step,
                wb.pred_images[:n].detach().float().cpu().numpy().astype(np.float32),
                wb.pred_masks[:n].detach().float().cpu().numpy().astype(np.float32),
            )

    def validation(self, step: int, val: dict[str, float], best: float, improved: bool) -> None:
        if not self.master:
            return
        self.metrics.write("val", step, val | {"best": best})
        self.events.on_validation(step, val)
        self.log(format_val_line(step, val, best, improved))

    @contextlib.contextmanager
    def metrics_closed_on_failure(self) -> Iterator[None]:
        """On an exception, close metrics.jsonl and re-raise. train() reports the failure
        (on_error, never on_end). A full disk also fails the close; that second error must not
        hide the first."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(OSError):
                self.metrics.close()
            raise

    def end(self, step: int, reason: str, elapsed_s: float) -> None:
        if not self.master:
            return
        self.metrics.close()
        self.log(f"end step {step} | reason {reason} | elapsed {elapsed_s:.1f} s")
        self.events.on_end(step, reason)
