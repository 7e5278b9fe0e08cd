"""Checkpoints: one `Checkpoint` type, written atomically, read without running code.

Layout in the run directory:

    checkpoints/step-00000120.pt   one per checkpoint step, the newest `keep_last` kept
    checkpoints/best.pt            the lowest validation loss so far (a full, resumable copy)

`Checkpoint.save` and `Checkpoint.load` are the only writer and reader: the training loop,
resume, the ONNX export, evaluation, infer-reference and the gRPC server all go through them.

Safe to load: a file is a torch zip archive holding {"format", "version", "tensors", "state"},
where "state" is JSON text (`checkpoint_codec`), so `torch.load(weights_only=True)` reads it on
torch 1.13 as on torch >= 2.6, whose default that is. `load` refuses anything else before or
while unpickling: legacy (non-zip) torch files and TorchScript archives are refused unopened
(torch < 2.6 would run them through its full unpickler or torch.jit.load), and a pickle that
needs any class besides tensors and their storages fails in the weights-only unpickler, so a
crafted payload never runs. Checkpoints of format version 1 (plain pickled dicts) are refused
the same way; `migrate-checkpoint --trust` converts one you trust.
"""

from __future__ import annotations

import dataclasses
import pickle
import random
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.fs_atomic import produce_atomic
from stillmotion_trainer.training.checkpoint_codec import CodecError, decode, encode

FORMAT = "stillmotion-checkpoint"
VERSION = 2
_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")
BEST_NAME = "best.pt"
MIGRATE_HINT = (
    "if you trust the file, convert it with "
    "`python -m stillmotion_trainer migrate-checkpoint --trust FILE --out NEW.pt`"
)


class CheckpointError(StillMotionError, ValueError):
    """A checkpoint that cannot be used; names the file and the problem. `code` is the gRPC
    status name the CLI and the server report (NOT_FOUND for a missing file)."""

    def __init__(self, path: Path | str, problem: str, code: str = "INVALID_ARGUMENT") -> None:
        super().__init__(f"{path}: {problem}", code=code)
        self.path = str(path)


class UnsafeCheckpointError(CheckpointError):
    """The file would need the full pickle machinery (which can run code) to load: refused."""


@dataclass
class TrainingState:
    """What a resumable checkpoint holds beyond the weights: the training loop's state."""

    loss_config: dict[str, Any]  # dataclasses.asdict(LossConfig)
    epoch: int  # completed epochs
    batch_in_epoch: int  # data position: batches of the current epoch already consumed
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: Optional[dict[str, Any]]  # AMP GradScaler state, None without AMP
    discriminator: Optional[dict[str, Any]]  # None without the GAN
    d_optimizer: Optional[dict[str, Any]]
    early_stopping: dict[str, Any]  # {"best", "bad_validations"}
    best_val: float  # best validation total loss so far (inf before the first validation)
    elapsed_s: float  # training wall-clock time summed over resumes (time budget)
    rng: dict[str, Any]  # python, numpy, torch (and cuda) generator states
    replica_digests: list[str]  # SHA-256 of the weights on each rank, all equal


@dataclass
class Checkpoint:
    """A generator and where it came from; with `training`, everything to continue the run.

    The ONNX export, evaluation and infer-reference read `model`, `generator_config`, `config`
    and `step`; resume needs `training` too (`load(..., resumable=True)` insists on it).
    """

    model: dict[str, torch.Tensor]  # generator state_dict (unwrapped from DDP)
    generator_config: dict[str, Any]  # dataclasses.asdict(GeneratorConfig)
    config: dict[str, Any] = field(default_factory=dict)  # the run config (config.json)
    step: int = 0  # optimizer steps done
    training: Optional[TrainingState] = None

    @property
    def best_val_loss(self) -> float:
        """Best validation loss of the run when this was written; NaN when unknown."""
        return float(self.training.best_val) if self.training is not None else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """The flat view (`model`, `step`, ..., `best_val`, `rng`, ...) tests and tools read."""
        flat: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        flat.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        training = flat.pop("training")
        if training is not None:
            flat.update({f.name: getattr(training, f.name) for f in dataclasses.fields(training)})
        return flat

    def save(self, path: Path | str) -> None:
        """Write atomically (`atomic_torch_save`); raises CheckpointError for unstorable state."""
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.training is not None:
            training = self.training
            state["training"] = {
                f.name: getattr(training, f.name) for f in dataclasses.fields(training)
            }
        try:
            text, tensors = encode(state)
        except CodecError as e:
            raise CheckpointError(path, f"cannot be saved: {e}") from e
        payload = {"format": FORMAT, "version": VERSION, "tensors": tensors, "state": text}
        atomic_torch_save(payload, Path(path))

    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        resumable: bool = False,
        map_location: str | torch.device = "cpu",
    ) -> "Checkpoint":
        """Read `path` without running code from it; CheckpointError says why it cannot be used.

        resumable=True also requires the training state (a file the training loop wrote).
        """
        p = Path(path)
        payload = _safe_torch_load(p, map_location)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointError(p, f"not a {FORMAT} file")
        if payload.get("version") != VERSION:
            raise CheckpointError(
                p,
                f"format version {payload.get('version')!r} is not supported; this trainer "
                f"reads {VERSION}",
            )
        tensors, text = payload.get("tensors"), payload.get("state")
        if not isinstance(text, str) or not isinstance(tensors, list):
            raise CheckpointError(p, "missing its tensors or state")
        if not all(isinstance(t, torch.Tensor) for t in tensors):
            raise CheckpointError(p, "tensors: holds something other than tensors")
        try:
            state = decode(text, tensors)
        except CodecError as e:
            raise CheckpointError(p, f"state: {e}") from e
        return _from_state(p, state, resumable)


def _from_state(path: Path, state: Any, resumable: bool) -> Checkpoint:
    """A Checkpoint from the decoded state, every field's type checked (errors name it)."""
    if not isinstance(state, dict):
        raise CheckpointError(path, "state: expected an object")
    _field(path, state, "model", dict)
    if not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state["model"].items()
    ):
        raise CheckpointError(path, "model: expected parameter names mapped to tensors")
    _field(path, state, "generator_config", dict)
    _field(path, state, "config", dict)
    _field(path, state, "step", int)
    training = None
    raw = state.get("training")
    if raw is not None:
        if not isinstance(raw, dict):
            raise CheckpointError(path, "training: expected an object")
        kinds: dict[str, Any] = {
            "loss_config": dict, "epoch": int, "batch_in_epoch": int, "optimizer": dict,
            "scheduler": dict, "scaler": (dict, type(None)), "discriminator": (dict, type(None)),
            "d_optimizer": (dict, type(None)), "early_stopping": dict,
            "best_val": (float, int), "elapsed_s": (float, int), "rng": dict,
            "replica_digests": list,
        }  # fmt: skip
        for name, kind in kinds.items():
            _field(path, raw, name, kind, prefix="training.")
        unknown = sorted(set(raw) - set(kinds))
        if unknown:
            raise CheckpointError(path, f"training: unknown field(s) {', '.join(unknown)}")
        training = TrainingState(**raw)
    elif resumable:
        raise CheckpointError(
            path, "holds weights only (no training state), so a run cannot resume from it"
        )
    return Checkpoint(
        model=state["model"],
        generator_config=state["generator_config"],
        config=state["config"],
        step=state["step"],
        training=training,
    )


def _field(path: Path, obj: dict, name: str, kind: Any, prefix: str = "") -> None:
    if name not in obj:
        raise CheckpointError(path, f"missing {prefix}{name}")
    value = obj[name]
    if isinstance(value, bool) and kind is int or not isinstance(value, kind):
        raise CheckpointError(path, f"{prefix}{name}: unexpected {type(value).__name__}")


def _safe_torch_load(path: Path, map_location: str | torch.device) -> Any:
    """torch.load(weights_only=True) of a plain torch zip archive, and nothing else."""
    if not path.is_file():
        raise CheckpointError(path, "checkpoint not found", code="NOT_FOUND")
    if not zipfile.is_zipfile(path):
        # torch < 2.6 reads legacy (tar / raw pickle) files with weights_only=True through a
        # path that can still run code (CVE-2025-32434): never hand it one
        raise CheckpointError(
            path, "not a torch zip archive (truncated, or not written by this trainer)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(path, f"cannot be read as a zip archive: {e}") from e
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        # torch.load hands TorchScript archives to torch.jit.load, weights_only or not
        raise UnsafeCheckpointError(path, "is a TorchScript archive, not a checkpoint: refused")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        reason = str(e).rsplit("error:", 1)[-1].strip()
        raise UnsafeCheckpointError(
            path,
            "holds Python objects other than tensors, numbers, strings, lists and dicts "
            f"({reason}); loading it would need the full unpickler, which can run code, so it "
            f"is refused. Checkpoints of format version 1 look like this; {MIGRATE_HINT}",
        ) from e
    except Exception as e:  # truncated archive members, bad storages, foreign files
        raise CheckpointError(path, f"cannot be read as a torch checkpoint: {e}") from e


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """`Checkpoint.load(path, resumable=True).as_dict()`: the flat view, for tests and tools."""
    return Checkpoint.load(path, resumable=True, map_location=map_location).as_dict()


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


def newest_resumable(
    run_dir: Path, log: Callable[[str], None] = lambda line: None
) -> Optional[tuple[Path, Checkpoint]]:
    """(path, checkpoint) of the newest step checkpoint that loads, None if the run has none.

    A newer file that does not load (a disk that filled up, a copy cut short) is skipped and
    logged with its reason; CheckpointError, listing every reason, when none loads.
    """
    failures = []
    for _, path in reversed(list_step_checkpoints(run_dir)):
        try:
            ckpt = Checkpoint.load(path, resumable=True)
        except CheckpointError as e:
            failures.append(str(e))
            log(f"resume: skipping {path.name}: {e}")
            continue
        if failures:
            log(f"resume: falling back to {path.name} (step {ckpt.step})")
        return path, ckpt
    if failures:
        raise CheckpointError(
            checkpoint_dir(run_dir),
            "no step checkpoint can be resumed from: " + "; ".join(failures),
            code="FAILED_PRECONDITION",
        )
    return None


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save through fs_atomic: temp file, fsync, os.replace onto `path`, folder fsync.

    A reader (or a resume after kill -9) sees either the old file or the complete new one.
    """
    produce_atomic(path, lambda f: torch.save(obj, f))


def prune_step_checkpoints(run_dir: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` step checkpoints (best.pt is never touched)."""
    found = list_step_checkpoints(run_dir)
    removed = []
    for _, p in found[: max(0, len(found) - keep_last)]:
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


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
