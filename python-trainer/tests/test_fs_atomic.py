"""fs_atomic: the one atomic write (temp + fsync + rename + folder fsync) every writer uses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from stillmotion_trainer import fs_atomic
from stillmotion_trainer.fs_atomic import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    produce_atomic,
)


def test_writes_json_with_final_newline_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "config.json"
    atomic_write_json(target, {"a": 1})
    assert target.read_text() == json.dumps({"a": 1}, indent=2) + "\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["config.json"]


def test_a_failing_writer_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    atomic_write_bytes(target, b"old")

    def half_then_fail(f):  # type: ignore[no-untyped-def]
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space") as info:
        produce_atomic(target, half_then_fail)
    # named after the file being written (write(2) errors carry no name), not the removed temp
    assert info.value.filename == str(target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_full_disk_under_torch_save_is_the_os_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's zip writer turns a failed write into RuntimeError "unexpected pos ..."."""
    import errno

    import torch

    class FullAfter:
        """A real file on which writes past 100 bytes fail as on a full disk."""

        def __init__(self, f) -> None:  # type: ignore[no-untyped-def]
            self.f, self.written = f, 0

        def write(self, data: bytes) -> int:
            if self.written + len(data) > 100:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.f.write(data)

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.f, name)

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
            self.f.close()

    monkeypatch.setattr(fs_atomic, "open", lambda p, mode: FullAfter(open(p, mode)), raising=False)
    target = tmp_path / "step-00000002.pt"
    with pytest.raises(OSError) as info:
        produce_atomic(target, lambda f: torch.save({"w": torch.zeros(1000)}, f))
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(target))
    assert isinstance(info.value.__cause__, RuntimeError)  # what torch made of it, kept as cause
    assert list(tmp_path.iterdir()) == []


def test_fsyncs_the_file_then_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(fs_atomic.os, "fsync", spy)
    atomic_write_bytes(tmp_path / "a.png", b"png")
    assert synced == ["file", "dir"]


def test_published_files_follow_the_umask_not_mkstemp_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "shared.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.json").stat().st_mode) == 0o644


def test_atomic_path_publishes_what_a_library_wrote_by_name(tmp_path: Path) -> None:
    target = tmp_path / "g.onnx"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".g.onnx.")
        tmp.write_bytes(b"onnx")
        assert not target.exists()
    assert target.read_bytes() == b"onnx"
