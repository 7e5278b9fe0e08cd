"""Shared pieces of the evaluation tests: deterministic toy generators and a tiny checkpoint.

Not a test module (no test_ prefix); test files import it by name (pytest puts this folder on
sys.path).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.next_frame import NextFrameGenerator
from stillmotion_trainer.training.checkpoint import Checkpoint


def shift_right(mask: np.ndarray, by: int) -> np.ndarray:
    """(..., W) shifted right by `by` pixels, zeros entering from the left (numpy reference)."""
    out = np.zeros_like(mask)
    if by == 0:
        return mask.copy()
    out[..., by:] = mask[..., :-by]
    return out


def frame_shift(image: torch.Tensor) -> torch.Tensor:
    """The shift a toy generator reads from a constant frame of value t / 10: t pixels."""
    return torch.round(image.mean(dim=(1, 2, 3)) * 10).long()  # (B,)


def _shift_by(mask: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """mask shifted right by the frame number each `source` frame encodes (frame_shift)."""
    out = torch.zeros_like(mask)
    for b, s in enumerate(frame_shift(source).tolist()):
        out[b, ..., s:] = mask[b, ..., : mask.shape[-1] - s]
    return out


class ShiftByFrame(nn.Module):
    """Toy G(I_t, M_t): next mask = mask shifted right by the frame number `image` encodes;
    next image = 1 - image."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []  # batch size of every call

    def forward(self, image, mask):  # type: ignore[no-untyped-def]
        self.calls.append(image.shape[0])
        return 1.0 - image, _shift_by(mask, image)


class ShiftByNextFrame(NextFrameGenerator):
    """Toy G(I_t, M_t, I_{t+1}): as ShiftByFrame, the shift read from the third input. A
    NextFrameGenerator (models.factory.takes_next_frame is True) without its networks."""

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.calls: list[int] = []

    def forward(self, image, mask, next_image):  # type: ignore[no-untyped-def,override]
        self.calls.append(image.shape[0])
        return 1.0 - image, _shift_by(mask, next_image)


def constant_frames(num_frames: int, height: int = 4, width: int = 64) -> torch.Tensor:
    """(T, 3, H, W) frames where frame t has value t / 10 everywhere."""
    values = torch.arange(num_frames, dtype=torch.float32) / 10
    return values.view(-1, 1, 1, 1).expand(num_frames, 3, height, width).contiguous()


def save_tiny_checkpoint(
    path: str, channels: int = 3, size: int = 16, seed: int = 0, **overrides: Any
) -> str:
    """An untrained `tiny` generator (GeneratorConfig `overrides` applied) saved the way the
    training loop saves checkpoints."""
    torch.manual_seed(seed)
    cfg = generator_config("tiny", channels=channels, **overrides)
    model = build_generator(cfg)
    Checkpoint(
        model=model.state_dict(),
        generator_config=dataclasses.asdict(cfg),
        config={
            "data": {"size": size, "val_fraction": 0.34},
            "model": {"preset": "tiny"},
            "train": {"seed": 1},
        },
        step=0,
    ).save(path)
    return path
