"""The trainer's one atomic write (TypeScript's twin: packages/inference/src/fs-atomic.ts).

A file is written under a temporary name in the target's folder, flushed and fsynced, renamed
over the target (``os.replace``, atomic on one filesystem), and then the folder is fsynced so
the rename itself survives a power cut. A reader, or a resume after ``kill -9``, sees either the
old file or the complete new one; a failure removes the temporary file. Every writer of
checkpoints, configs, metrics rewrites, manifests, PNGs and exported models goes through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


def temp_path_for(path: Path) -> Path:
    """A fresh name beside `path` (same filesystem, so the rename is atomic), hidden by a dot."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and platforms) refuse fsync on a folder: nothing more to do
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path to write (by any library, e.g. ``onnx.save``); publish it on exit.

    The temporary file must exist when the block ends. It is created with the process umask's
    permissions (not mkstemp's 0600), so published files are as readable as plain ``open`` ones.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as err:
        # write(2) on a full disk raises "No space left on device" with no file name, and the
        # temporary file's name means nothing to the user (it is removed below): name the target.
        if err.filename is None or str(err.filename) == str(tmp):
            err.filename = str(target)
        raise
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)


class _WriteErrorRecorder:
    """A file that remembers the OSError one of its writes raised. A library writing through a
    callback can replace it with its own error: torch.save's zip writer turns "No space left on
    device" into ``RuntimeError: [enforce fail at inline_container.cc] unexpected pos 64 vs 0``."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self._f.write(data)
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def produce_atomic(path: PathLike, produce: Callable[[IO[bytes]], object]) -> None:
    """Call ``produce(f)`` with a binary file open for writing, then publish it at `path`.

    A failed write is what the caller sees (named after `path`, see `atomic_path`), whatever
    error the producing library made of it."""
    with atomic_path(path) as tmp:
        with open(tmp, "xb") as f:
            recorder = _WriteErrorRecorder(f)
            try:
                produce(recorder)  # type: ignore[arg-type]
            except Exception as err:
                if recorder.error is None or err is recorder.error:
                    raise
                raise recorder.error from err


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    produce_atomic(path, lambda f: f.write(data))


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, data: Any) -> None:
    """Write `data` as indented JSON with a final newline, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
