"""Forward passes of the shipped checkpoints and of seeded generators, frozen as a reference.

`model_reference.npz` beside this file was written by `python tests/models/model_reference.py`
(run from python-trainer/) at commit 522cce2, before models/ was split into blocks, generator,
next_frame and factory (issue 18): test_model_reference.py recomputes everything here and
compares, so a refactor of models/ that changes a state-dict key, an initial weight or an
output is caught. Inputs are analytic (no RNG, nothing read but the checkpoints), so the same
numbers come out on every machine up to floating-point summation order. The real-propagation
entries were written again at stop 23, when the shipped model was given the "wide-grey" matcher
(models/README.md; its outputs and keys changed on purpose); the others are the originals.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.next_frame import generation_step, image_field

REPO = Path(__file__).resolve().parents[3]
SHIPPED = ("real-propagation", "real-still-to-video")  # models/<name>.pt
REFERENCE = Path(__file__).with_name("model_reference.npz")

# generators built from torch.manual_seed(0): one per structural branch of models/
SEEDED: dict[str, dict[str, Any]] = {
    "shared": {},
    "shared_branching": {"shared_decoder_stages": 1, "decoder": "transposed"},
    "shared_stem2_head1": {"stem_stride": 2, "head_kernel": 1, "shared_decoder_stages": 1},
    "shared_stem2_fused": {"stem_stride": 2, "head_kernel": 1},
    "separate": {"variant": "separate", "upsample_mode": "nearest"},
    "separate_stem2_transposed": {"variant": "separate", "stem_stride": 2, "decoder": "transposed"},
    "residual": {"image_residual": True, "mask_residual": True},
    "separate_residual": {"variant": "separate", "image_residual": True, "mask_residual": True},
    "next_conv": {"next_frame_input": True, "mask_head": "conv", "mask_residual": True},
    "next_warp": {"next_frame_input": True, "mask_head": "warp", "image_residual": True},
    "next_warp_refine": {
        "next_frame_input": True,
        "mask_head": "warp",
        "mask_refine": True,
        "refine_width": 4,
        "matcher": "wide",
    },
    "next_warp_separate": {
        "variant": "separate",
        "next_frame_input": True,
        "mask_head": "warp",
        "mask_refine": True,
        "mask_residual": True,
    },
    "image_warp": {
        "next_frame_input": True,
        "mask_head": "warp",
        "mask_refine": True,
        "image_head": "warp",
        "stem_stride": 2,
    },
}


def inputs(channels: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image, mask, next_frame): a smooth textured pattern, a soft disk, the pattern moved by
    (2.5, -1.5) pixels. (1, C, H, W), (1, 1, H, W), (1, C, H, W) in [0, 1]."""

    def pattern(dx: float, dy: float) -> torch.Tensor:
        ys = torch.arange(h, dtype=torch.float64).view(-1, 1) - dy
        xs = torch.arange(w, dtype=torch.float64).view(1, -1) - dx
        planes = [
            0.5 + 0.3 * torch.sin(xs / (3 + c) + ys / 5) * torch.cos(ys / (4 + c) - xs / 7)
            for c in range(channels)
        ]
        return torch.stack(planes).unsqueeze(0).float()

    ys = torch.arange(h, dtype=torch.float64).view(-1, 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, -1)
    r = torch.sqrt((xs - w * 0.45) ** 2 + (ys - h * 0.55) ** 2)
    mask = torch.sigmoid((min(h, w) / 4 - r) * 1.5).float().view(1, 1, h, w)
    return pattern(0.0, 0.0), mask, pattern(2.5, -1.5)


def outputs(model: torch.nn.Module, channels: int, h: int, w: int) -> dict[str, np.ndarray]:
    """Every output a caller reads: forward, forward_with_motion, generation_step, image_field."""
    image, mask, next_frame = inputs(channels, h, w)
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        cfg = model.cfg  # type: ignore[union-attr]
        if cfg.next_frame_input:
            outputs = model.forward_with_motion(image, mask, next_frame)  # type: ignore[operator]
            for i, t in enumerate(outputs):
                out[f"forward_with_motion.{i}"] = t.numpy()
        else:
            for i, t in enumerate(model(image, mask)):
                out[f"forward.{i}"] = t.numpy()
        for i, t in enumerate(generation_step(model, image, mask)):
            out[f"generation_step.{i}"] = t.numpy()
        field = image_field(model, image, mask)
        if field is not None:
            out["image_field"] = field.numpy()
    return out


def state_summary(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """State-dict key order, shapes, and the sum / sum of squares of each tensor (float64)."""
    keys, sums = [], []
    for k, v in model.state_dict().items():
        keys.append(f"{k}:{tuple(v.shape)}")
        d = v.detach().double()
        sums.append([float(d.sum()), float((d * d).sum())])
    return {"state_keys": np.array(keys), "state_sums": np.array(sums, dtype=np.float64)}


def compute() -> dict[str, np.ndarray]:
    torch.set_num_threads(1)
    ref: dict[str, np.ndarray] = {}
    for name in SHIPPED:
        model, cfg, _ = load_generator_from_checkpoint(str(REPO / "models" / f"{name}.pt"))
        for k, v in {**outputs(model, cfg.channels, 36, 50), **state_summary(model)}.items():
            ref[f"{name}/{k}"] = v
    for name, overrides in SEEDED.items():
        torch.manual_seed(0)
        model = build_generator(generator_config("tiny", **overrides)).eval()
        for k, v in {**outputs(model, 3, 12, 17), **state_summary(model)}.items():
            ref[f"seeded.{name}/{k}"] = v
    return ref


if __name__ == "__main__":
    ref = compute()
    np.savez_compressed(REFERENCE, **ref)
    size = REFERENCE.stat().st_size
    print(f"{REFERENCE}: {len(ref)} arrays, {size} bytes", file=sys.stderr)
