"""run_dir/metrics.jsonl: the durable record of a run, one JSON object per line.

Every line has "step", "kind" ("train" or "val") and "time" (unix seconds). Lines are flushed
as they are written, so a run killed with kill -9 loses nothing it logged. On resume from a
checkpoint at step k, lines with step > k are dropped first (those steps will run again), by
rewriting the file atomically, so the log never has a lost or a duplicated step.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import IO, Any, Mapping, Optional

from stillmotion_trainer.fs_atomic import atomic_write_text


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf; write null so every reader (TS included) can parse the line."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    """Append-only JSONL writer for metrics.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Optional[IO[str]] = None

    def truncate_after(self, step: int) -> int:
        """Keep only complete lines with step <= `step` (atomic rewrite); return lines dropped.

        A torn last line (the process died mid-write) is dropped too.
        """
        if not self.path.exists():
            return 0
        kept, dropped = [], 0
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                    keep = line.endswith("\n") and int(record["step"]) <= step
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    keep = False
                if keep:
                    kept.append(line)
                else:
                    dropped += 1
        atomic_write_text(self.path, "".join(kept))
        return dropped

    def write(self, kind: str, step: int, metrics: Mapping[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        # "time" (unix seconds) lets tools measure throughput from the durable log alone.
        record = {
            "step": step,
            "kind": kind,
            "time": time.time(),
            **{k: _finite_or_none(v) for k, v in metrics.items()},
        }
        try:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        except OSError as e:
            # flush() errors (a full disk) carry no file name: name it for the user.
            raise OSError(e.errno, e.strerror, str(self.path)) from e

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as e:  # the last flush failed: name the file, as write() does
                raise OSError(e.errno, e.strerror, str(self.path)) from e


def read_metrics(path: Path, kind: Optional[str] = None) -> list[dict[str, Any]]:
    """All records of metrics.jsonl (optionally one kind), in file order."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if kind is None or record.get("kind") == kind:
                out.append(record)
    return out
