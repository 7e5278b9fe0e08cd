"""Pixel-level problems: each found by the loaders and by check_dataset, naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stillmotion_trainer.data.check import check_dataset
from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.images import load_frame, load_mask

PYTHON_ROOT = Path(__file__).resolve().parents[2]


def tiny(root: Path, channels: int = 3) -> Path:
    """Two 8x8 frames; frame 0 has a key mask that is also its evaluation mask."""
    (root / "f").mkdir(parents=True)
    mode = "RGB" if channels == 3 else "L"
    shape = (8, 8, 3) if channels == 3 else (8, 8)
    for t in range(2):
        Image.fromarray(np.full(shape, 100, np.uint8), mode).save(root / f"f/{t}.png")
    m = np.zeros((8, 8), np.uint8)
    m[1:4, 1:4] = 255
    Image.fromarray(m, "L").save(root / "f/m0.png")
    manifest = {
        "format": "stillmotion-dataset",
        "version": 1,
        "name": "t",
        "modality": "endoscopy" if channels == 3 else "ultrasound",
        "channels": channels,
        "videos": [
            {
                "id": "v",
                "fps": 30,
                "width": 8,
                "height": 8,
                "frames": [
                    {"image": "f/0.png", "keyMask": "f/m0.png", "gtMask": "f/m0.png"},
                    {"image": "f/1.png"},
                ],
            }
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def only_error(root: Path) -> DatasetError:
    report = check_dataset(root)
    assert len(report.errors) == 1, [str(e) for e in report.errors]
    return report.errors[0]


def test_clean_dataset_passes(tmp_path: Path) -> None:
    report = check_dataset(tiny(tmp_path))
    assert report.ok and (report.videos, report.frames, report.key_masks) == (1, 2, 1)


def test_corrupt_image(tmp_path: Path) -> None:
    tiny(tmp_path)
    (tmp_path / "f/1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated garbage")
    err = only_error(tmp_path)
    assert err.reason == "unreadable_image" and err.path == str(tmp_path / "f/1.png")
    with pytest.raises(DatasetError, match="cannot decode"):
        load_frame(tmp_path / "f/1.png", 3)


def test_empty_file_is_unreadable(tmp_path: Path) -> None:
    tiny(tmp_path)
    (tmp_path / "f/m0.png").write_bytes(b"")
    errors = check_dataset(tmp_path).errors
    assert {e.reason for e in errors} == {"unreadable_image"}
    assert all(e.path == str(tmp_path / "f/m0.png") for e in errors)


def test_mask_size_mismatch(tmp_path: Path) -> None:
    tiny(tmp_path)
    Image.fromarray(np.zeros((6, 8), np.uint8), "L").save(tmp_path / "f/m0.png")
    errors = check_dataset(tmp_path).errors
    assert {e.reason for e in errors} == {"size_mismatch"}
    assert "8x6" in str(errors[0]) and "f/0.png" in str(errors[0])


def test_frame_size_differs_from_declared(tmp_path: Path) -> None:
    tiny(tmp_path)
    Image.fromarray(np.zeros((9, 8, 3), np.uint8), "RGB").save(tmp_path / "f/1.png")
    err = only_error(tmp_path)
    assert err.reason == "size_mismatch" and "declares 8x8" in err.message


def test_non_binary_mask(tmp_path: Path) -> None:
    tiny(tmp_path)
    Image.fromarray(np.full((8, 8), 128, np.uint8), "L").save(tmp_path / "f/m0.png")
    errors = check_dataset(tmp_path).errors
    assert {e.reason for e in errors} == {"mask_not_binary"}
    assert "100.0%" in errors[0].message
    with pytest.raises(DatasetError, match="not binary"):
        load_mask(tmp_path / "f/m0.png")


def test_zero_one_mask_is_named_not_read_as_empty(tmp_path: Path) -> None:
    tiny(tmp_path)
    m = np.zeros((8, 8), np.uint8)
    m[2:4, 2:4] = 1
    Image.fromarray(m, "L").save(tmp_path / "f/m0.png")
    with pytest.raises(DatasetError, match="0/1"):
        load_mask(tmp_path / "f/m0.png")


def test_mask_with_few_antialiased_pixels_is_accepted(tmp_path: Path) -> None:
    m = np.zeros((20, 20), np.uint8)
    m[5:15, 5:15] = 255
    m[0, 0] = 128  # 1 of 400 pixels = 0.25% ambiguous
    Image.fromarray(m, "L").save(tmp_path / "m.png")
    out = load_mask(tmp_path / "m.png")
    assert out.shape == (1, 20, 20) and out.dtype == np.float32
    assert out.sum() == 101 and set(np.unique(out)) == {0.0, 1.0}


def test_rgb_mask_is_wrong_channels(tmp_path: Path) -> None:
    tiny(tmp_path)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8), "RGB").save(tmp_path / "f/m0.png")
    assert {e.reason for e in check_dataset(tmp_path).errors} == {"wrong_channels"}


def test_grey_frame_in_rgb_dataset_is_wrong_channels(tmp_path: Path) -> None:
    tiny(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(tmp_path / "f/1.png")
    err = only_error(tmp_path)
    assert err.reason == "wrong_channels" and "channels=3" in err.message


def test_load_frame_shapes_and_range(tmp_path: Path) -> None:
    tiny(tmp_path, channels=1)
    g = load_frame(tmp_path / "f/0.png", 1)
    assert g.shape == (1, 8, 8) and g.dtype == np.float32
    assert np.allclose(g, 100 / 255)
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb, "RGB").save(tmp_path / "c.png")
    c = load_frame(tmp_path / "c.png", 3)
    assert c.shape == (3, 4, 5) and c[1].min() == 1.0 and c[0].max() == 0.0


def test_check_reports_every_problem_not_only_the_first(tmp_path: Path) -> None:
    tiny(tmp_path)
    (tmp_path / "f/1.png").write_bytes(b"nope")
    Image.fromarray(np.full((8, 8), 100, np.uint8), "L").save(tmp_path / "f/m0.png")
    codes = sorted(e.reason for e in check_dataset(tmp_path).errors)
    assert codes == ["mask_not_binary", "mask_not_binary", "unreadable_image"]


def test_dataset_check_command_exit_code_and_output(tmp_path: Path) -> None:
    tiny(tmp_path)
    (tmp_path / "f/1.png").write_bytes(b"nope")
    cmd = [sys.executable, "-m", "stillmotion_trainer", "dataset-check", str(tmp_path), "--json"]
    out = subprocess.run(cmd, cwd=PYTHON_ROOT, capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert not report["ok"] and report["errors"][0]["path"] == str(tmp_path / "f/1.png")
