"""A run that fails says so (issue N1): one error line, a non-zero exit, the file named.

Real runs of the tiny config on a copy of the synthetic dataset with one frame broken; the
loader uses worker processes, where torch would turn DatasetError into a RuntimeError.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import zlib
from pathlib import Path

import pytest
import yaml
from train_helpers import base_raw, small_config, synthetic_dataset

from stillmotion_trainer.cli import main
from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.errors import StillMotionError, describe_error
from stillmotion_trainer.training.events import RecordingEvents
from stillmotion_trainer.training.loop import train


pytestmark = pytest.mark.usefixtures("keep_torch_threads")  # conftest.py


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def png_bomb(path: Path) -> None:
    """A 100-byte PNG whose header declares 9000x9000 pixels (81 M, above MAX_PIXELS)."""
    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def broken_dataset(tmp_path: Path, damage) -> tuple[str, Path]:
    """A copy of the synthetic dataset with one mid-video frame damaged; (root, frame)."""
    root = tmp_path / "ds"
    shutil.copytree(synthetic_dataset(), root)
    frame = sorted((root / "frames").rglob("*.png"))[3]
    damage(frame)
    return str(root), frame


def run_cli(tmp_path: Path, raw: dict, *extra: str) -> int:
    """`train` on `raw` in tmp_path/run; the exit code (output via capsys)."""
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    return main(["train", "--config", str(config), "--run-dir", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize(
    "damage, reason", [(truncate, "unreadable_image"), (png_bomb, "bad_dimensions")]
)
def test_a_broken_frame_read_by_a_worker_ends_with_one_dataset_error_line(
    tmp_path, capsys, damage, reason
):
    dataset, frame = broken_dataset(tmp_path, damage)
    raw = base_raw(data={"dataset": dataset, "num_workers": 2}, stop={"max_steps": 40})
    code = run_cli(tmp_path, raw)
    out, err = capsys.readouterr()
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    error = json.loads(lines[0])
    assert error["event"] == "error" and error["code"] == "INVALID_ARGUMENT"
    assert error["reason"] == reason
    assert error["message"].startswith(f"{frame}: ")
    assert "RuntimeError" not in err and "Traceback" not in err


def test_a_full_disk_ends_with_resource_exhausted_naming_the_file(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # every write to /dev/full fails with ENOSPC; --resume auto accepts the existing log
    (run_dir / "metrics.jsonl").symlink_to("/dev/full")
    code = run_cli(tmp_path, base_raw(), "--resume", "auto")
    out, err = capsys.readouterr()
    assert code == 1
    error = json.loads(out.strip().splitlines()[-1])
    assert error["code"] == "RESOURCE_EXHAUSTED"
    assert error["message"] == f"{run_dir / 'metrics.jsonl'}: No space left on device"


def test_a_failed_run_reports_on_error_and_never_on_end(tmp_path):
    dataset, frame = broken_dataset(tmp_path, truncate)
    cfg = small_config(data={"dataset": dataset, "num_workers": 2}, stop={"max_steps": 40})
    events = RecordingEvents()
    with pytest.raises(DatasetError) as info:
        train(cfg, run_dir=tmp_path / "run", events=events, log=lambda line: None)
    assert info.value.path == str(frame) and info.value.reason == "unreadable_image"
    assert events.named("on_end") == []
    assert [type(e) for (e,) in events.named("on_error")] == [DatasetError]


def test_errors_pickle_with_code_reason_and_fields():
    err = pickle.loads(pickle.dumps(DatasetError("missing_file", "/d/x.png", "file not found")))
    assert isinstance(err, StillMotionError) and isinstance(err, ValueError)
    assert (err.code, err.reason, err.path) == ("NOT_FOUND", "missing_file", "/d/x.png")
    assert describe_error(err) == "NOT_FOUND: /d/x.png: file not found [missing_file]"


def test_describe_error_is_one_line_for_any_exception():
    assert describe_error(OSError(28, "No space left on device", "/r/a.pt")) == (
        "RESOURCE_EXHAUSTED: /r/a.pt: No space left on device"
    )
    assert describe_error(RuntimeError("boom\nsecond line")) == (
        "INTERNAL: RuntimeError: boom; second line"
    )
    with pytest.raises(ValueError, match="allowed: OK, CANCELLED"):
        StillMotionError("x", code="Invalid")
