"""VideoClipDataset: shapes, key-frame alignment, identical augmentation across a clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.manifest import load_manifest
from stillmotion_trainer.data.video_dataset import VideoClipDataset


def square_video(root: Path, frames: int = 6, keys: tuple[int, ...] = (2,), size: int = 16) -> Path:
    """Frames whose pixels equal their mask (a white square drifting right on black).

    Because image == mask, any misalignment between augmented frames and masks shows up as a
    pixel-wise difference.
    """
    (root / "f").mkdir(parents=True, exist_ok=True)
    entries = []
    for t in range(frames):
        m = np.zeros((size, size), np.uint8)
        m[4:10, 2 + t : 8 + t] = 255
        Image.fromarray(np.stack([m, m, m], -1), "RGB").save(root / f"f/{t}.png")
        Image.fromarray(m, "L").save(root / f"f/m{t}.png")
        entry = {"image": f"f/{t}.png", "gtMask": f"f/m{t}.png"}
        if t in keys:
            entry["keyMask"] = f"f/m{t}.png"
        entries.append(entry)
    video = {"id": "sq", "fps": 25, "width": size, "height": size, "frames": entries}
    manifest = {
        "format": "stillmotion-dataset",
        "version": 1,
        "name": "sq",
        "modality": "endoscopy",
        "channels": 3,
        "videos": [video],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_item_shapes_types_and_key_alignment(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path))
    ds = VideoClipDataset(m, ["sq"], size=(12, 12), clip_len=3)
    assert [ds.clip_at(i)[1] for i in range(len(ds))] == [0, 1, 2]  # every clip holds frame 2
    item = ds[1]
    assert item["frames"].shape == (3, 3, 12, 12) and item["frames"].dtype == torch.float32
    assert item["key_masks"].shape == (3, 1, 12, 12) and item["gt_masks"].shape == (3, 1, 12, 12)
    assert item["is_key"].tolist() == [False, True, False]
    assert item["has_gt"].tolist() == [True, True, True]
    assert (item["video_id"], item["start"]) == ("sq", 1)
    assert item["key_masks"][0].sum() == 0 and item["key_masks"][1].sum() > 0
    assert torch.equal(item["key_masks"][1], item["gt_masks"][1])
    assert 0.0 <= item["frames"].min() and item["frames"].max() <= 1.0
    assert set(item["gt_masks"].unique().tolist()) <= {0.0, 1.0}


def test_no_resize_keeps_exact_pixels(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path))
    item = VideoClipDataset(m, ["sq"], size=(16, 16), clip_len=2)[0]
    assert torch.equal(item["frames"][:, :1], item["gt_masks"])


def test_augmentation_is_identical_for_frames_and_masks(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path))
    ds = VideoClipDataset(m, ["sq"], size=(16, 16), clip_len=3, augment=True, seed=3)
    changed = 0
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            plain = VideoClipDataset(m, ["sq"], size=(16, 16), clip_len=3)[i]
            changed += int(not torch.equal(item["gt_masks"], plain["gt_masks"]))
            binarised = (item["frames"][:, :1] > 0.5).float()
            mismatch = (binarised != item["gt_masks"]).float().mean().item()
            assert mismatch < 0.02, (epoch, i, mismatch)
            assert torch.equal(item["key_masks"][item["is_key"]], item["gt_masks"][item["is_key"]])
    assert changed > 0  # augmentation did something


def test_augmentation_same_transform_for_every_frame(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path))
    ds = VideoClipDataset(m, ["sq"], size=(16, 16), clip_len=2, augment=True, seed=5)
    # frames t and t+1 differ by a 1-pixel shift; after a shared warp their masses match
    for i in range(len(ds)):
        masses = ds[i]["frames"].sum(dim=(1, 2, 3))
        assert torch.allclose(masses[0], masses[1], rtol=0.15), masses


def test_augmentation_deterministic_by_seed_epoch_index(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path))
    a = VideoClipDataset(m, ["sq"], size=(16, 16), clip_len=2, augment=True, seed=1)
    b = VideoClipDataset(m, ["sq"], size=(16, 16), clip_len=2, augment=True, seed=1)
    assert torch.equal(a[0]["frames"], b[0]["frames"])
    draws = set()
    for epoch in range(6):
        a.set_epoch(epoch)
        draws.add(a[0]["frames"].numpy().tobytes())
    assert len(draws) > 1


def test_clips_per_video_sampling(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path, frames=10, keys=(1, 8)))
    ds = VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=2, clips_per_video=5, seed=2)
    assert len(ds) == 5
    starts = [ds.clip_at(i)[1] for i in range(5)]
    assert starts == [ds.clip_at(i)[1] for i in range(5)]
    assert all(s in (0, 1, 7, 8) for s in starts)  # a key frame in every clip
    seen: set[int] = set()
    for epoch in range(5):
        ds.set_epoch(epoch)
        seen.update(ds.clip_at(i)[1] for i in range(5))
    assert len(seen) > 1


def test_require_key_false_uses_every_window(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path, frames=5, keys=()))
    ds = VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=2, require_key=False)
    assert len(ds) == 4 and not ds[0]["is_key"].any()


def test_errors_name_the_problem(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path, frames=3, keys=()))
    with pytest.raises(DatasetError, match="no key-frame mask") as info:
        VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=2)
    assert info.value.reason == "no_key_frame"
    with pytest.raises(DatasetError, match="fewer than clip_len=4"):
        VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=4, require_key=False)
    with pytest.raises(DatasetError, match="no video 'nope'"):
        VideoClipDataset(m, ["nope"], size=(8, 8), clip_len=1, require_key=False)


def test_corrupt_frame_raises_naming_file(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path, frames=3, keys=(0,)))
    (tmp_path / "f/1.png").write_bytes(b"broken")
    ds = VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=2)
    with pytest.raises(DatasetError, match="f/1.png"):
        ds[0]


def test_works_with_dataloader(tmp_path: Path) -> None:
    m = load_manifest(square_video(tmp_path))
    ds = VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=2, augment=True)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["frames"].shape == (2, 2, 3, 8, 8) and batch["video_id"] == ["sq", "sq"]


def test_epoch_keyed_items_match_set_epoch(tmp_path: Path) -> None:
    """(epoch, index) keys — what the run-long training loader sends its workers — return the
    same draws and augmentation as set_epoch(epoch) followed by [index]."""
    m = load_manifest(square_video(tmp_path, frames=10, keys=(1, 8)))
    ds = VideoClipDataset(m, ["sq"], size=(8, 8), clip_len=2, clips_per_video=5, augment=True)
    for epoch in (0, 3):
        ds.set_epoch(epoch)
        expected = [ds[i] for i in range(5)]
        ds.set_epoch(99)  # keyed access must not depend on the current epoch
        for i, item in enumerate(expected):
            got = ds[(epoch, i)]
            assert got["start"] == item["start"]
            assert torch.equal(got["frames"], item["frames"])
