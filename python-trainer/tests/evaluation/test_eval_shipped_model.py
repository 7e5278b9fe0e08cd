"""The shipped pre-trained model (models/real-propagation.pt, models/README.md) loads safely and
propagates a real clip it never saw better than copying the key mask.

The vendored clip (data/real/vocalfolds-seq8-128, laryngoscopy, CC BY 4.0) with a key mask on
masked frames 0, 10, 20, ...: the model was trained only on animated stills of other domains
(polyps, breast ultrasound), so this is a zero-shot run (mode b of docs/real-data.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stillmotion_trainer.data.manifest import load_manifest
from stillmotion_trainer.evaluation.baselines import copy_key_masks
from stillmotion_trainer.evaluation.evaluate import load_video, score_masks
from stillmotion_trainer.evaluation.propagation import propagate_masks
from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint
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
    manifest = load_manifest(CLIP)
    data = load_video(manifest, manifest.videos[0], (128, 128))  # the evaluation's own reader
    gt = data.gt.numpy()
    keys = {t: gt[t] for t, has in enumerate(data.has_gt) if has and t % 10 == 0}
    model, _, _ = load_generator_from_checkpoint(str(MODEL))
    masks = propagate_masks(
        model, data.frames, {k: torch.from_numpy(m) for k, m in keys.items()}
    ).masks
    copy = copy_key_masks(len(gt), keys).masks
    scored = [t for t, has in enumerate(data.has_gt) if has and t not in keys]
    model_dice = float(np.mean([s["dice"] for s in score_masks(masks, gt, scored, 2.0)]))
    copy_dice = float(np.mean([s["dice"] for s in score_masks(copy, gt, scored, 2.0)]))
    assert model_dice > copy_dice + 0.1, (model_dice, copy_dice)
