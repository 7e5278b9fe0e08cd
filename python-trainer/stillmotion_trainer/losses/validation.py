"""Input checks shared by every loss: one typed error, one message form (`name: problem`).

The trainer back-propagates through these losses, so a silent NaN or a tanh output in [-1, 1]
would corrupt training without a trace; we raise instead of clamping.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from stillmotion_trainer.errors import StillMotionError


class LossInputError(StillMotionError, ValueError):
    """Bad input to a loss or metric. `code` mirrors the gRPC status used by the TS package."""

    code = "INVALID_ARGUMENT"

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument
        self.problem = problem


def check_tensor(
    name: str,
    x: object,
    ndim: int | None = None,
    layout: str = "",
    unit_range: bool = True,
    allow_empty: bool = False,
) -> torch.Tensor:
    """Check that `x` is a non-empty floating tensor of `ndim` dims, finite, in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise LossInputError(name, f"expected a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        raise LossInputError(
            name, f"expected a {ndim}-D tensor {layout}, got shape {tuple(x.shape)}".strip()
        )
    if not x.is_floating_point():
        raise LossInputError(name, f"expected a floating-point tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        if allow_empty:
            return x
        raise LossInputError(name, f"is empty (shape {tuple(x.shape)})")
    with torch.no_grad():
        # One pass and one device sync on the happy path (the loss checks each (W, J, C, H, W)
        # input several times per step); NaN propagates through aminmax and fails both bounds.
        if not unit_range:
            ok = torch.isfinite(x).all()
        elif x.dtype in (torch.float32, torch.float64):
            lo, hi = torch.aminmax(x)
            ok = (lo >= 0) & (hi <= 1)
        else:  # aminmax is not implemented for every half type on every device
            ok = ((x >= 0) & (x <= 1)).all()
        if not bool(ok):
            if bool(torch.isnan(x).any()):
                raise LossInputError(name, "contains NaN")
            if not bool(torch.isfinite(x).all()):
                raise LossInputError(name, "contains an infinite value")
            raise LossInputError(
                name,
                f"values must lie in [0, 1], got min {float(x.min()):.6g} max {float(x.max()):.6g}",
            )
    return x


def check_same_shape(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    """All tensors share the first one's shape; the message names both arguments."""
    first = tuple(tensors[0].shape)
    for name, t in zip(names[1:], tensors[1:]):
        if tuple(t.shape) != first:
            raise LossInputError(
                name, f"shape {tuple(t.shape)} does not match {names[0]} shape {first}"
            )


def check_unit_scalar(name: str, value: object) -> float:
    """A finite real number in [0, 1] (γ1, γ2, thresholds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LossInputError(name, f"expected a number in [0, 1], got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or v > 1.0:
        raise LossInputError(name, f"expected a number in [0, 1], got {value!r}")
    return v


def check_choice(name: str, value: object, allowed: Sequence[str]) -> str:
    """`value` is one of `allowed`; the message lists them (transformers.js style)."""
    if not isinstance(value, str) or value not in allowed:
        raise LossInputError(
            name, f'unsupported value "{value}". Should be one of: {", ".join(allowed)}'
        )
    return value


def check_bool_flags(name: str, flags: object, shape: Sequence[int]) -> torch.Tensor:
    """A bool tensor of exactly `shape` (validity / inferred flags)."""
    if not isinstance(flags, torch.Tensor) or flags.dtype != torch.bool:
        got = flags.dtype if isinstance(flags, torch.Tensor) else type(flags).__name__
        raise LossInputError(name, f"expected a bool tensor of shape {tuple(shape)}, got {got}")
    if tuple(flags.shape) != tuple(shape):
        raise LossInputError(name, f"expected shape {tuple(shape)}, got {tuple(flags.shape)}")
    return flags
