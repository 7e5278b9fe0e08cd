"""animate-stills: stills with masks -> clips whose masks move exactly with their frames."""

import json

import numpy as np
import pytest
from PIL import Image

from stillmotion_trainer.data.animate_stills import MotionStrength, animate, animate_stills
from stillmotion_trainer.data.manifest import load_manifest


def textured_still(h=48, w=48, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.random((h, w, 3)).astype(np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    mask[16:30, 18:34] = 1.0
    image[mask > 0] = [0.9, 0.2, 0.2]  # the lesion is red: its pixels tell where the mask is
    return image, mask


def test_the_mask_moves_with_the_image():
    image, mask = textured_still()
    frames, masks = animate(image, mask, 8, np.random.default_rng(1))
    assert frames.shape == (8, 48, 48, 3) and masks.shape == (8, 48, 48)
    for t in range(8):
        red = (frames[t, ..., 0] > 0.8) & (frames[t, ..., 1] < 0.3) & (frames[t, ..., 2] < 0.3)
        inter = (red & (masks[t] > 0)).sum()
        dice = 2 * inter / (red.sum() + masks[t].sum())
        assert dice > 0.85, f"frame {t}: mask and red lesion disagree (Dice {dice:.2f})"
    assert not np.allclose(frames[0], frames[-1]), "a copy is not a video"


def test_zero_strength_is_a_still_zoomed_once():
    image, mask = textured_still()
    frames, masks = animate(image, mask, 4, np.random.default_rng(0), MotionStrength().scaled(0))
    assert np.allclose(frames[0], frames[3]) and np.array_equal(masks[0], masks[3])


def test_dataset_is_valid_deterministic_and_keyed(tmp_path):
    stills = tmp_path / "stills"
    (stills / "images").mkdir(parents=True)
    (stills / "masks").mkdir()
    for i in range(2):
        image, mask = textured_still(seed=i)
        Image.fromarray((image * 255).astype(np.uint8)).save(stills / "images" / f"s{i}.jpg")
        Image.fromarray((mask * 255).astype(np.uint8)).save(stills / "masks" / f"s{i}.png")
    a = animate_stills(stills, tmp_path / "a", frames=5, size=32, clips_per_still=2, key_every=2)
    animate_stills(stills, tmp_path / "b", frames=5, size=32, clips_per_still=2, key_every=2)
    m = load_manifest(a)
    assert [v.id for v in m.videos] == ["s0-0", "s0-1", "s1-0", "s1-1"]
    assert tuple(m.videos[0].key_indices) == (0, 2, 4)
    for name in ("frames/s1-1/000004.png", "masks/s0-0/000003.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    raw = json.loads(a.read_text())
    assert raw["source"]["tool"].endswith("animate-stills")
    with pytest.raises(FileExistsError):
        animate_stills(stills, tmp_path / "a", frames=5, size=32)


def test_a_still_without_mask_is_named(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "images" / "lonely.jpg")
    with pytest.raises(FileNotFoundError, match="lonely"):
        animate_stills(tmp_path, tmp_path / "out", frames=3, size=8)
