"""One training run at a time inside the serve process: start, stop, status, checkpoints, export.

The gRPC servicer is a thin shell over this class; this class is a thin shell over
training.loop.train. StartRun only queues the run: the serve process's MAIN thread runs it
(`run_pending`), because torch trains ~40 % slower from a secondary thread on this CPU build
(measured: 6.2 vs 10 steps/s); gRPC and heartbeats live on their own threads meanwhile.
"""

from __future__ import annotations

import json
import queue
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.server.telemetry import TelemetryPublisher
from stillmotion_trainer.server.telemetry_sink import TelemetrySink


class RunError(StillMotionError):
    """An error with a gRPC status name ("INVALID_ARGUMENT", "NOT_FOUND", ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass
class ActiveRun:
    run_id: str
    run_dir: Path
    sink: TelemetrySink
    cfg: Any
    resume: bool
    state: str = "RUNNING"  # RUNNING | STOPPING | FINISHED | FAILED
    error: str = ""
    start_step: int = 0
    done: threading.Event = field(default_factory=threading.Event)


class RunManager:
    def __init__(self, publisher: TelemetryPublisher) -> None:
        self.publisher = publisher
        self.run: Optional[ActiveRun] = None
        self._lock = threading.Lock()
        self._queue: "queue.Queue[ActiveRun]" = queue.Queue()

    # -- control -----------------------------------------------------------------------------
    def start(self, config_json: str, run_dir: str = "", resume: bool = False) -> ActiveRun:
        from stillmotion_trainer.training.config import ConfigError, config_from_dict

        try:
            raw = json.loads(config_json)
        except json.JSONDecodeError as e:
            raise RunError("INVALID_ARGUMENT", f"config_json: not valid JSON ({e})") from e
        if not isinstance(raw, dict):
            raise RunError("INVALID_ARGUMENT", "config_json: must be a JSON object")
        if run_dir:
            raw.setdefault("checkpoint", {})["run_dir"] = run_dir
        try:
            cfg = config_from_dict(raw, source="StartRun.config_json")
        except ConfigError as e:
            raise RunError("INVALID_ARGUMENT", str(e)) from e

        with self._lock:
            if self.run is not None and not self.run.done.is_set():
                raise RunError(
                    "FAILED_PRECONDITION", f"run {self.run.run_id} is still {self.run.state}"
                )
            run_id = uuid.uuid4().hex[:12]
            start_step = self._resume_step(Path(cfg.checkpoint.run_dir)) if resume else 0
            sink = TelemetrySink(self.publisher, run_id)
            target_dir = Path(cfg.checkpoint.run_dir)
            self.run = ActiveRun(run_id, target_dir, sink, cfg, resume, start_step=start_step)
            self._queue.put(self.run)
            return self.run

    @staticmethod
    def _resume_step(run_dir: Path) -> int:
        """Step `resume` will continue from: the newest step checkpoint that loads, 0 if none."""
        from stillmotion_trainer.training.checkpoint import CheckpointError, newest_resumable

        try:
            found = newest_resumable(run_dir)
        except CheckpointError:
            return 0  # the run itself reports why it cannot resume
        return found[1].step if found else 0

    def run_pending(self, timeout_s: float) -> bool:
        """Run the next queued run to its end in the calling thread; False if none came."""
        try:
            run = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return False
        from stillmotion_trainer.training.loop import train

        try:
            train(run.cfg, events=run.sink, resume="auto" if run.resume else None)
            run.state = "FINISHED"
        except Exception as e:  # the run fails, the server stays up and says why
            run.state = "FAILED"
            run.error = f"{type(e).__name__}: {e}"
            run.sink.on_failure(run.sink.step, run.error + "\n" + traceback.format_exc(limit=5))
        finally:
            run.done.set()
        return True

    def stop(self, run_id: str = "") -> bool:
        run = self._require(run_id)
        if run.done.is_set():
            return False
        run.state = "STOPPING"
        run.sink.stop_requested.set()
        return True

    def request_stop(self) -> None:
        """For SIGTERM / parent death: ask the active run (if any) to checkpoint and end."""
        if self.run is not None and not self.run.done.is_set():
            self.stop()

    # -- queries -----------------------------------------------------------------------------
    def _require(self, run_id: str) -> ActiveRun:
        if self.run is None:
            raise RunError("NOT_FOUND", "no run has been started on this trainer")
        if run_id and run_id != self.run.run_id:
            raise RunError("NOT_FOUND", f"run_id {run_id!r} unknown (current: {self.run.run_id})")
        return self.run

    def status(self, run_id: str = "") -> dict:
        if self.run is None:
            return {"state": "IDLE"}
        run = self._require(run_id)
        sink = run.sink
        return {
            "run_id": run.run_id,
            "state": run.state,
            "step": sink.step,
            "epoch": sink.epoch,
            "last_metrics": dict(sink.last_metrics),
            "best_val_loss": sink.best_val_loss,
            "end_reason": sink.end_reason,
            "error": run.error,
            "last_seq": self.publisher.history.last_seq,
            "run_dir": str(run.run_dir),
        }

    def checkpoints(self, run_id: str = "") -> list[dict]:
        """Every step checkpoint of the run, oldest first, then best.pt with its val loss."""
        from stillmotion_trainer.training.checkpoint import (
            Checkpoint,
            best_checkpoint_path,
            list_step_checkpoints,
        )

        run_dir = self._require(run_id).run_dir
        out = [
            {"path": str(p), "step": s, "is_best": False} for s, p in list_step_checkpoints(run_dir)
        ]
        best = best_checkpoint_path(run_dir)
        if best.exists():
            ckpt = Checkpoint.load(best)
            out.append(
                {
                    "path": str(best),
                    "step": ckpt.step,
                    "is_best": True,
                    "val_loss": ckpt.best_val_loss,
                }
            )
        return out

    def export(self, run_id: str = "", checkpoint_path: str = "", out_path: str = "") -> dict:
        """Export a checkpoint of the run (default best, else latest) to ONNX.

        Both paths must lie inside the run directory once resolved (symlinks followed): the
        server never reads a checkpoint or writes a file anywhere else on a client's say-so.
        """
        from stillmotion_trainer.export.checkpoint_export import export_checkpoint
        from stillmotion_trainer.training.checkpoint import best_checkpoint_path, latest_checkpoint

        run_dir = self._require(run_id).run_dir
        if checkpoint_path:
            ckpt = inside_run_dir(run_dir, checkpoint_path, "checkpoint_path")
        elif best_checkpoint_path(run_dir).exists():
            ckpt = best_checkpoint_path(run_dir)
        else:
            latest = latest_checkpoint(run_dir)
            if latest is None:
                raise RunError("FAILED_PRECONDITION", f"{run_dir} has no checkpoint to export yet")
            ckpt = latest
        if not ckpt.is_file():
            raise RunError("NOT_FOUND", f"checkpoint_path: {ckpt} does not exist")
        out = run_dir / "export" / "generator.onnx"
        if out_path:
            out = inside_run_dir(run_dir, out_path, "out_path")
            if out.suffix != ".onnx":
                raise RunError("INVALID_ARGUMENT", f"out_path: {out_path} must end in .onnx")
        report = export_checkpoint(str(ckpt), str(out))
        return {"path": str(out), "report": report}


def inside_run_dir(run_dir: Path, raw: str, field_name: str) -> Path:
    """`raw` (relative to the run directory, or absolute) resolved, if it stays inside it.

    Resolving follows every symlink that exists, so a link inside the run directory that points
    out of it is refused too (PERMISSION_DENIED, naming the field).
    """
    root = run_dir.resolve()
    path = Path(raw)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise RunError(
            "PERMISSION_DENIED", f"{field_name}: {raw} is outside the run directory {root}"
        )
    return resolved
