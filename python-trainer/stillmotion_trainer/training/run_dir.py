"""The run directory: what a run writes, and the rules for starting vs resuming in it.

    run_dir/config.json          the resolved config (schema-valid), frozen at start
    run_dir/metrics.jsonl        metrics_log.MetricsLog
    run_dir/checkpoints/         checkpoint.py
    run_dir/STOP                 create this file to ask the run to stop (it is removed once
                                 the run acted on it)
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from stillmotion_trainer.fs_atomic import atomic_write_json  # noqa: F401 (loop.py imports it here)
from stillmotion_trainer.training.checkpoint import latest_checkpoint
from stillmotion_trainer.training.config import ConfigError

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.jsonl"
STOP_NAME = "STOP"


def stop_file(run_dir: Path) -> Path:
    return run_dir / STOP_NAME


def resolve_resume(run_dir: Path, resume: Optional[str]) -> Optional[Path]:
    """The checkpoint to resume from: None (fresh run), "auto" (newest, if any) or a path.

    A fresh run refuses a directory that already holds a run, so nothing is overwritten.
    """
    if resume is None:
        existing = [p for p in (run_dir / CONFIG_NAME, run_dir / METRICS_NAME) if p.exists()]
        if existing or latest_checkpoint(run_dir) is not None:
            raise ConfigError(
                [
                    f"checkpoint.run_dir: {run_dir} already holds a run ({CONFIG_NAME}, "
                    f"{METRICS_NAME} or checkpoints/). Pass --resume auto to continue it, or "
                    "choose another --run-dir"
                ]
            )
        return None
    if resume == "auto":
        return latest_checkpoint(run_dir)
    path = Path(resume)
    if not path.is_file():
        raise ConfigError([f"--resume: checkpoint {path} not found"])
    return path
