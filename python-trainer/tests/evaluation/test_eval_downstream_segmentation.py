"""Item 2's fixed segmentation recipe (evaluation/downstream_segmentation.py): the split, the
loss against its formula, a recipe that learns, and the whole comparison on real files."""


import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation import downstream_segmentation as ds
from stillmotion_trainer.evaluation.generation_quality import GenerationQualityError


def test_split_holds_out_every_nth_still():
    train, test = ds.split_stills([f"s{i}" for i in range(7)], 3)
    assert test == [2, 5] and train == [0, 1, 3, 4, 6]
    with pytest.raises(GenerationQualityError, match="test_every: expected an integer >= 2"):
        ds.split_stills(["a"], 1)


def test_loss_is_bce_plus_one_minus_soft_dice():
    p = torch.tensor([0.9, 0.2, 0.6, 0.1]).view(1, 1, 2, 2)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 1, 2, 2)
    bce = -np.mean([np.log(0.9), np.log(0.8), np.log(0.6), np.log(0.9)])
    soft = (2 * (0.9 + 0.6) + 1) / ((0.9 + 0.2 + 0.6 + 0.1) + 2 + 1)
    assert float(ds.segmentation_loss(p, y)) == pytest.approx(bce + 1 - soft, rel=1e-5)


def test_the_recipe_learns_a_bright_disc():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:32, :32]
    images, masks = [], []
    for _ in range(12):
        cy, cx, r = rng.integers(10, 22), rng.integers(10, 22), rng.integers(4, 8)
        m = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float32)
        images.append(np.stack([0.2 + 0.6 * m + 0.05 * rng.random((32, 32))] * 3))
        masks.append(m[None])
    x, y = np.stack(images).astype(np.float32), np.stack(masks)
    net = ds.train_segmenter(x[:8], y[:8], steps=60, batch=4, seed=0)
    assert ds.mean_dice(net, x[8:], y[8:]) > 0.8


def test_comparison_on_real_files(tmp_path):
    from tests.evaluation.test_eval_generation_quality import _image_warp_checkpoint, _write_stills

    _write_stills(tmp_path / "stills", n=6)
    _image_warp_checkpoint(tmp_path / "g.pt")
    report = ds.downstream_segmentation(
        tmp_path / "g.pt", tmp_path / "stills", size=32, frames=2, steps=3, batch=2, seeds=(0,)
    )
    assert report["train_stills"] == 4 and report["test_stills"] == ["s2", "s5"]
    assert report["generated_frames"] == 4 * 2  # the held-out stills get no clips
    (run,) = report["runs"]
    assert 0.0 <= run["a"] <= 1.0 and 0.0 <= run["b"] <= 1.0
    assert report["b_minus_a"] == pytest.approx(run["b"] - run["a"])
