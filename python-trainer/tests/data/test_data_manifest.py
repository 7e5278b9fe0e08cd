"""Manifest validation: each malformed manifest gives a DatasetError naming the file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.manifest import MAX_PIXELS, load_manifest, split_by_video


def make_dataset(root: Path, frames: int = 3, videos: int = 1, **video_overrides: Any) -> dict:
    """A tiny valid 8x8 RGB dataset; returns the manifest dict (already written)."""
    vids = []
    for v in range(videos):
        entries = []
        for t in range(frames):
            image = f"frames/v{v}/{t:03d}.png"
            (root / image).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8, 3), 40 * t, np.uint8), "RGB").save(root / image)
            entry = {"image": image}
            if t == 0:
                mask = f"masks/v{v}/{t:03d}.png"
                (root / mask).parent.mkdir(parents=True, exist_ok=True)
                m = np.zeros((8, 8), np.uint8)
                m[2:5, 2:5] = 255
                Image.fromarray(m, "L").save(root / mask)
                entry.update(keyMask=mask, keySource="clinician", gtMask=mask)
            entries.append(entry)
        video = {"id": f"v{v}", "fps": 25, "width": 8, "height": 8, "frames": entries}
        video.update(video_overrides)
        vids.append(video)
    manifest = {
        "format": "stillmotion-dataset",
        "version": 1,
        "name": "tiny",
        "modality": "endoscopy",
        "channels": 3,
        "videos": vids,
    }
    write(root, manifest)
    return manifest


def write(root: Path, manifest: dict) -> Path:
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def expect_error(root: Path, reason: str, *fragments: str) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        load_manifest(root)
    err = info.value
    assert err.reason == reason, str(err)
    for fragment in fragments:
        assert fragment in str(err), str(err)
    return err


def test_valid_dataset_loads_with_every_field(tmp_path: Path) -> None:
    make_dataset(tmp_path, frames=3, videos=2)
    m = load_manifest(tmp_path / "manifest.json")
    assert (m.name, m.modality, m.channels, m.root) == ("tiny", "endoscopy", 3, tmp_path)
    assert [v.id for v in m.videos] == ["v0", "v1"]
    v = m.videos[0]
    assert (v.fps, v.width, v.height, len(v.frames)) == (25.0, 8, 8, 3)
    assert v.frames[0].key_mask == "masks/v0/000.png" and v.frames[0].key_source == "clinician"
    assert v.frames[1].key_mask is None and v.frames[1].gt_mask is None
    assert v.key_indices == (0,)


def test_absolute_path_is_rejected(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"][1]["image"] = str(tmp_path / "frames/v0/001.png")
    write(tmp_path, m)
    err = expect_error(tmp_path, "unsafe_path", "videos[0].frames[1].image", "absolute")
    assert err.path == str(tmp_path / "manifest.json")


def test_dotdot_path_is_rejected(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"][0]["keyMask"] = "masks/../../secret.png"
    write(tmp_path, m)
    expect_error(tmp_path, "unsafe_path", "videos[0].frames[0].keyMask", "'..'")


def test_backslash_path_is_rejected(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"][0]["image"] = "frames\\v0\\000.png"
    write(tmp_path, m)
    expect_error(tmp_path, "unsafe_path", "backslash")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    (tmp_path / "frames/v0/002.png").unlink()
    err = expect_error(tmp_path, "missing_file", "videos[0].frames[2].image")
    assert err.path == str(tmp_path / "frames/v0/002.png")
    assert err.code == "NOT_FOUND"


def test_missing_manifest(tmp_path: Path) -> None:
    expect_error(tmp_path, "missing_file", "manifest.json")


def test_empty_video_is_rejected(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"] = []
    write(tmp_path, m)
    expect_error(tmp_path, "empty_video", "'v0'", "no frames")


def test_no_videos_is_rejected(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"] = []
    write(tmp_path, m)
    expect_error(tmp_path, "invalid_manifest", "videos")


@pytest.mark.parametrize(
    "width,height,fragment",
    [(0, 8, "videos[0].width"), (100000, 8, "videos[0].width"), (8, -3, "videos[0].height")],
)
def test_absurd_dimensions_are_rejected(
    tmp_path: Path, width: int, height: int, fragment: str
) -> None:
    make_dataset(tmp_path, width=width, height=height)
    expect_error(tmp_path, "bad_dimensions", fragment)


def test_too_many_pixels_is_rejected(tmp_path: Path) -> None:
    make_dataset(tmp_path, width=16384, height=16384)
    expect_error(tmp_path, "bad_dimensions", str(MAX_PIXELS))


def test_non_integer_dimensions_are_rejected(tmp_path: Path) -> None:
    make_dataset(tmp_path, width=8.5)
    expect_error(tmp_path, "bad_dimensions", "videos[0].width")


@pytest.mark.parametrize("fps", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_fps_is_rejected(tmp_path: Path, fps: float) -> None:
    # json.dumps writes NaN/Infinity tokens that Python's json reads back (issue N2)
    m = make_dataset(tmp_path)
    m["videos"][0]["fps"] = fps
    write(tmp_path, m)
    err = expect_error(tmp_path, "invalid_manifest", "videos[0].fps", "not a finite number")
    assert err.code == "INVALID_ARGUMENT" and err.path == str(tmp_path / "manifest.json")


def test_bad_json_names_line(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"format": "stillmotion-dataset",\n  oops}')
    expect_error(tmp_path, "invalid_manifest", "line 2")


def test_unsupported_version(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["version"] = 2
    write(tmp_path, m)
    expect_error(tmp_path, "unsupported_version", "version 2")


def test_unknown_field_is_rejected_not_ignored(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"][1]["keymask"] = "masks/v0/000.png"  # typo of keyMask
    write(tmp_path, m)
    expect_error(tmp_path, "invalid_manifest", "videos[0].frames[1]", "keymask")


def test_key_source_without_key_mask(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"][1]["keySource"] = "detector"
    write(tmp_path, m)
    expect_error(tmp_path, "invalid_manifest", "keyMask")


def test_wrong_modality_lists_allowed(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["modality"] = "mri"
    write(tmp_path, m)
    expect_error(tmp_path, "invalid_manifest", "modality", "endoscopy")


def test_duplicate_video_id(tmp_path: Path) -> None:
    m = make_dataset(tmp_path, videos=2)
    m["videos"][1]["id"] = "v0"
    write(tmp_path, m)
    expect_error(tmp_path, "duplicate_id", "videos[1].id")


def test_duplicate_frame_path(tmp_path: Path) -> None:
    m = make_dataset(tmp_path)
    m["videos"][0]["frames"][2]["image"] = "frames/v0/001.png"
    write(tmp_path, m)
    expect_error(tmp_path, "duplicate_path", "videos[0].frames[2].image")


def test_split_is_deterministic_disjoint_and_complete(tmp_path: Path) -> None:
    make_dataset(tmp_path, frames=1, videos=10)
    m = load_manifest(tmp_path)
    train, val = split_by_video(m, 0.3, seed=7)
    assert (train, val) == split_by_video(m, 0.3, seed=7)
    assert len(val) == 3 and not set(train) & set(val)
    assert sorted(train + val) == sorted(v.id for v in m.videos)
    assert train == [v.id for v in m.videos if v.id in train]  # manifest order kept
    splits = {tuple(split_by_video(m, 0.3, seed=s)[1]) for s in range(10)}
    assert len(splits) > 1  # the seed matters


def test_split_keeps_one_video_each_side(tmp_path: Path) -> None:
    make_dataset(tmp_path, frames=1, videos=2)
    m = load_manifest(tmp_path)
    assert [len(x) for x in split_by_video(m, 0.01, seed=0)] == [1, 1]
    assert split_by_video(m, 0.0, seed=0) == (["v0", "v1"], [])
    with pytest.raises(ValueError, match="val_fraction"):
        split_by_video(m, 1.0, seed=0)
