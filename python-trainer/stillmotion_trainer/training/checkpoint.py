"""Checkpoints: plain dicts (nanoGPT style), written atomically, keep-last-k plus best.

Layout in the run directory:

    checkpoints/step-00000120.pt   one per checkpoint step, the newest `keep_last` kept
    checkpoints/best.pt            the lowest validation loss so far (a full, resumable copy)

A checkpoint dict holds everything needed to continue the same run (see `CHECKPOINT_KEYS`);
"model", "generator_config", "config" and "step" are also what the ONNX export reads.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

FORMAT = "stillmotion-checkpoint"
VERSION = 1
CHECKPOINT_KEYS = (
    "format",
    "version",
    "model",  # generator state_dict (unwrapped from DDP)
    "generator_config",  # dataclasses.asdict(GeneratorConfig)
    "config",  # the full run config dict (config.json)
    "loss_config",  # dataclasses.asdict(LossConfig)
    "step",  # optimizer steps done
    "epoch",  # completed epochs
    "batch_in_epoch",  # data position: batches of the current epoch already consumed
    "optimizer",
    "scheduler",
    "scaler",  # AMP GradScaler state, None without AMP
    "discriminator",  # None without the GAN
    "d_optimizer",
    "early_stopping",  # {"best", "bad_validations"}
    "best_val",  # best validation total loss so far (inf before the first validation)
    "elapsed_s",  # training wall-clock time summed over resumes (time budget)
    "rng",  # python, numpy, torch (and cuda) generator states
    "replica_digests",  # SHA-256 of generator (+ discriminator) weights on each rank, all equal
)
_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")
BEST_NAME = "best.pt"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; names the file and the problem."""

    code = "FAILED_PRECONDITION"

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def step_checkpoint_path(run_dir: Path, step: int) -> Path:
    return checkpoint_dir(run_dir) / f"step-{step:08d}.pt"


def best_checkpoint_path(run_dir: Path) -> Path:
    return checkpoint_dir(run_dir) / BEST_NAME


def list_step_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every step checkpoint, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _STEP_FILE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Optional[Path]:
    found = list_step_checkpoints(run_dir)
    return found[-1][1] if found else None


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then os.replace onto `path`.

    A reader (or a resume after kill -9) sees either the old file or the complete new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def prune_step_checkpoints(run_dir: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` step checkpoints (best.pt is never touched)."""
    found = list_step_checkpoints(run_dir)
    removed = []
    for _, p in found[: max(0, len(found) - keep_last)]:
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint written by `atomic_torch_save` of this module's dict."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(p, "checkpoint not found")
    try:
        # weights_only=False: the dict holds RNG states (numpy arrays, tuples); torch >= 2.6
        # would refuse them by default. Only load checkpoints you wrote.
        ckpt = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated or not a torch file
        raise CheckpointError(p, f"cannot be read as a torch checkpoint: {e}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(p, f"not a {FORMAT} file")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            p, f"version {ckpt.get('version')!r} is not supported; this trainer reads {VERSION}"
        )
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(p, f"missing key(s): {', '.join(missing)}")
    return ckpt


def rng_state() -> dict[str, Any]:
    """Every global generator the process uses. The loop's own randomness (data order, random
    masks, key choice) is derived from (seed, epoch, step) instead, so these matter only for
    code outside it (augmentation libraries, user hooks)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
