"""Symlinks that lead outside the dataset folder are refused by the loader, the trainer's clip
reader and the full check; links that stay inside are fine."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stillmotion_trainer.data.check import check_dataset
from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.manifest import load_manifest
from stillmotion_trainer.data.video_dataset import VideoClipDataset
from tests.data.test_data_files import tiny


def secret_png(folder: Path) -> Path:
    """An image outside any dataset, the kind of file a link must not smuggle in."""
    folder.mkdir()
    path = folder / "secret.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8), "RGB").save(path)
    return path


def link(target: Path | str, at: Path) -> None:
    at.unlink()
    os.symlink(target, at)


def test_frame_linked_outside_is_refused_by_load_and_check(tmp_path: Path) -> None:
    root = tiny(tmp_path / "ds")
    link(secret_png(tmp_path / "outside"), root / "f/1.png")
    with pytest.raises(DatasetError) as e:
        load_manifest(root)
    assert e.value.reason == "unsafe_path" and e.value.path == str(root / "f/1.png")
    assert "secret.png, outside the dataset folder" in e.value.message
    report = check_dataset(root)
    assert [(x.reason, x.path) for x in report.errors] == [("unsafe_path", str(root / "f/1.png"))]


def test_link_swapped_in_after_loading_is_refused_by_check_and_clip_reader(tmp_path: Path) -> None:
    root = tiny(tmp_path / "ds")
    manifest = load_manifest(root)
    link(secret_png(tmp_path / "outside"), root / "f/m0.png")
    # the key mask and the evaluation mask are the same file: both uses are reported
    assert [x.reason for x in check_dataset(manifest).errors] == ["unsafe_path", "unsafe_path"]
    with pytest.raises(DatasetError, match=r"outside the dataset folder.*\[unsafe_path\]"):
        VideoClipDataset(manifest, ["v"], size=(8, 8), clip_len=2)[0]


def test_links_inside_the_dataset_are_fine(tmp_path: Path) -> None:
    root = tiny(tmp_path / "ds")
    link("0.png", root / "f/1.png")
    assert check_dataset(root).ok
