"""Are generated clips useful training data? (issue 17, item 2, on the stills at hand)

A small segmentation network is trained with one fixed recipe and budget, (a) on real stills
only and (b) on the same stills plus the clips a generator makes from them (Fig. 5), then
scored on held-out real stills it never saw:

- split: the stills sorted by id, every `test_every`-th one held out (all sources represented);
- network: the project's encoder-decoder (models/blocks.EncoderDecoder, a U-Net) with one
  sigmoid output, image in, mask out;
- recipe: Adam (lr 1e-3), `steps` steps of `batch` samples drawn uniformly from the training
  pool, random horizontal flips; loss BCE + (1 - soft Dice); (b)'s pool is the stills plus every
  generated frame with its mask, so both arms get the same number of steps;
- score: hard Dice (metrics/dice.py, masks at 0.5) per held-out still, averaged.

Repeated over seeds (network initialisation and sampling; the clips are generated once).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stillmotion_trainer.evaluation.generation_quality import (
    GenerationQualityError,
    at_training_scale,
    composed_options,
    load_still,
    roll_out,
    roll_out_composed,
)
from stillmotion_trainer.metrics.dice import dice
from stillmotion_trainer.models.blocks import EncoderDecoder
from stillmotion_trainer.models.detail_sampling import DEFAULT_DETAIL
from stillmotion_trainer.models.fixed_border import DEFAULT_THRESHOLD as DEFAULT_BORDER
from stillmotion_trainer.models.generator import GeneratorConfig


def split_stills(ids: Sequence[str], test_every: int) -> tuple[list[int], list[int]]:
    """(train, test) indices of ids sorted: every `test_every`-th (1-based) is held out."""
    if test_every < 2:
        raise GenerationQualityError(f"test_every: expected an integer >= 2, got {test_every}")
    test = [i for i in range(len(ids)) if i % test_every == test_every - 1]
    return [i for i in range(len(ids)) if i not in test], test


def segmentation_loss(logits_sigmoid: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE(p, y) + 1 - (2 sum p y + 1) / (sum p + sum y + 1), p the prediction in (0, 1),
    Dice per sample then averaged (the fixed recipe's loss)."""
    p = logits_sigmoid.clamp(1e-6, 1 - 1e-6)
    bce = F.binary_cross_entropy(p, target)
    inter = (p * target).sum(dim=(1, 2, 3))
    soft = (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return bce + (1 - soft).mean()


def train_segmenter(
    images: np.ndarray, masks: np.ndarray, *, steps: int, batch: int, seed: int
) -> torch.nn.Module:
    """The fixed recipe (module docstring) on images (N, C, H, W) and masks (N, 1, H, W)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = GeneratorConfig(channels=images.shape[1], base_width=16, depth=3)
    net = EncoderDecoder(images.shape[1], 1, cfg.base_width, cfg)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(masks)
    for _ in range(steps):
        pick = torch.from_numpy(rng.integers(0, len(images), batch))
        x, y = x_all[pick], y_all[pick]
        flip = torch.from_numpy(rng.random(batch) < 0.5)
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        y = torch.where(flip.view(-1, 1, 1, 1), y.flip(-1), y)
        loss = segmentation_loss(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


@torch.no_grad()
def mean_dice(net: torch.nn.Module, images: np.ndarray, masks: np.ndarray) -> float:
    """Mean hard Dice of the network's masks on (N, C, H, W) images against (N, 1, H, W)."""
    pred = net(torch.from_numpy(images)).numpy()
    return float(np.mean([dice(pred[i], masks[i]) for i in range(len(images))]))


def downstream_segmentation(
    generator: str | Path,
    stills: str | Path,
    *,
    size: int = 128,
    frames: int = 16,
    test_every: int = 3,
    steps: int = 300,
    batch: int = 8,
    seeds: Sequence[int] = (0, 1, 2),
    compose: bool = False,
    strength: float = 1.0,
    residual: float = 1.0,
    camera: Optional[str | Path] = None,
    camera_strength: float = 1.0,
    border: float = DEFAULT_BORDER,
    detail: float = DEFAULT_DETAIL,
    motion_downsample: Optional[int] = None,
    scene_motion: Optional[str] = None,
) -> dict[str, Any]:
    """Dice on held-out stills of (a) stills only and (b) stills + generated clips, per seed.
    compose / strength / residual / camera (a camera profile's path) / camera_strength / border /
    detail / motion_downsample / scene_motion: the clips' roll-out
    (generation_quality.roll_out_composed and at_training_scale; clip i's camera poses drawn from
    seed i)."""
    from stillmotion_trainer.data.animate_stills import find_stills
    from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint

    started = time.perf_counter()
    options = composed_options(
        compose, strength, residual, camera, camera_strength, border, detail, scene_motion
    )
    model, cfg, ckpt = load_generator_from_checkpoint(str(generator))
    options = at_training_scale(options, motion_downsample, ckpt.config, size, compose)
    chosen = find_stills(Path(stills))
    loaded = [load_still(img, msk, cfg.channels, size) for _, img, msk in chosen]
    train, test = split_stills([c[0] for c in chosen], test_every)
    still_x = np.stack([loaded[i][0] for i in train]).astype(np.float32)
    still_y = np.stack([loaded[i][1] for i in train]).astype(np.float32)
    test_x = np.stack([loaded[i][0] for i in test]).astype(np.float32)
    test_y = np.stack([loaded[i][1] for i in test]).astype(np.float32)
    clip_x, clip_y = [], []
    for i in train:  # clips of the training stills only: the held-out ones stay unseen
        if compose:
            clip = roll_out_composed(model, *loaded[i], frames, options, seed=i)
        else:
            clip = roll_out(model, *loaded[i], frames)
        clip_x.append(clip.frames[1:])
        clip_y.append((clip.masks[1:] >= 0.5).astype(np.float32))
    gen_x = np.concatenate([still_x, *clip_x]).astype(np.float32)
    gen_y = np.concatenate([still_y, *clip_y]).astype(np.float32)
    runs = []
    for seed in seeds:
        a = train_segmenter(still_x, still_y, steps=steps, batch=batch, seed=seed)
        b = train_segmenter(gen_x, gen_y, steps=steps, batch=batch, seed=seed)
        runs.append(
            {"seed": seed, "a": mean_dice(a, test_x, test_y), "b": mean_dice(b, test_x, test_y)}
        )
    a_mean = float(np.mean([r["a"] for r in runs]))
    b_mean = float(np.mean([r["b"] for r in runs]))
    return {
        "generator": str(generator),
        "stills": str(stills),
        "train_stills": len(train),
        "test_stills": [chosen[i][0] for i in test],
        "generated_frames": len(gen_x) - len(still_x),
        "recipe": {
            "size": size, "steps": steps, "batch": batch, "compose": compose, "strength": strength,
            "residual": residual, "camera": None if camera is None else str(camera),
            "camera_strength": camera_strength, "border": border if camera is not None else None,
            "detail": detail if compose else None,
            "motion_downsample": options.motion_downsample if compose else None,
            "scene_motion": options.scene() if compose else None,
        },  # fmt: skip
        "runs": runs,
        "a_mean": a_mean,
        "b_mean": b_mean,
        "b_minus_a": b_mean - a_mean,
        "seconds": round(time.perf_counter() - started, 1),
    }
