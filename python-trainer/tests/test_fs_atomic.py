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

    with pytest.raises(OSError, match="No space"):
        produce_atomic(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


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
