"""The shipped pre-trained model (models/real-propagation.pt, models/README.md) loads safely and
propagates a real clip it never saw better than copying the key mask.

The vendored clip (data/real/vocalfolds-seq8-128, laryngoscopy, CC BY 4.0) with a key mask on
masked frames 0, 10, 20, ...: the model was trained only on animated stills of other domains
(polyps, breast ultrasound), so this is a zero-shot run (mode b of docs/real-data.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stillmotion_trainer.evaluation.baselines import copy_key_masks
from stillmotion_trainer.evaluation.propagation import propagate_masks
from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint
from stillmotion_trainer.metrics import dice
from stillmotion_trainer.training.checkpoint import Checkpoint

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "real-propagation.pt"
CLIP = REPO / "data" / "real" / "vocalfolds-seq8-128"


def test_the_shipped_checkpoint_is_weights_only_and_loads_under_weights_only():
    ckpt = Checkpoint.load(MODEL)  # torch.load(weights_only=True) inside
    assert ckpt.training is None  # no optimizer state shipped
    assert ckpt.generator_config["mask_head"] == "warp" and ckpt.generator_config["mask_refine"]
    with open(MODEL, "rb") as f:
        torch.load(f, weights_only=True)


@pytest.mark.slow
def test_the_shipped_model_beats_copy_key_zero_shot_on_the_vendored_real_clip():
    torch.set_num_threads(1)
    video = json.loads((CLIP / "manifest.json").read_text())["videos"][0]
    frames = np.stack(
        [
            np.asarray(Image.open(CLIP / f["image"]).convert("RGB"), np.float32).transpose(2, 0, 1)
            / 255
            for f in video["frames"]
        ]
    )
    gts = {
        t: (np.asarray(Image.open(CLIP / f["gtMask"])) > 127).astype(np.float32)[None]
        for t, f in enumerate(video["frames"])
        if "gtMask" in f
    }
    keys = {t: m for t, m in gts.items() if t % 10 == 0}
    model, _, _ = load_generator_from_checkpoint(str(MODEL))
    masks = propagate_masks(
        model, torch.from_numpy(frames), {k: torch.from_numpy(m) for k, m in keys.items()}
    ).masks
    copy = copy_key_masks(len(frames), keys).masks
    scored = [t for t in gts if t not in keys]
    model_dice = float(np.mean([dice(masks[t], gts[t]) for t in scored]))
    copy_dice = float(np.mean([dice(copy[t], gts[t]) for t in scored]))
    assert model_dice > copy_dice + 0.1, (model_dice, copy_dice)
