"""φ — the 2-D dissimilarity of METHOD.md ("One training step", steps 3-5), in [0, 1] per sample.

Every φ takes two (B, C, H, W) tensors with values in [0, 1] and returns a (B,) tensor, averaged
over C, H and W. Mirrored in TypeScript by packages/losses/src/phi.ts.
"""

from __future__ import annotations

from typing import Callable, Dict

import torch

from stillmotion_trainer.losses.validation import check_choice, check_same_shape, check_tensor

# Soft-Dice smoothing. Small enough that Dice of binary masks is exact to ~1e-6 at any size
# (even 3x5), large enough that two empty masks give 0/0 -> eps/eps = 1, i.e. φ = 0.
DICE_EPS = 1e-6


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    check_tensor("a", a, 4, "(B, C, H, W)")
    check_tensor("b", b, 4, "(B, C, H, W)")
    check_same_shape(["a", "b"], [a, b])


def phi_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """φ_l1(A, B) = mean_{c,h,w} |A - B|.  (B, C, H, W) x2 -> (B,)"""
    _check_pair(a, b)
    return (a - b).abs().flatten(1).mean(1)


def phi_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """φ_l2(A, B) = mean_{c,h,w} (A - B)^2.  (B, C, H, W) x2 -> (B,)"""
    _check_pair(a, b)
    return (a - b).pow(2).flatten(1).mean(1)


def phi_dice(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """φ_dice(A, B) = 1 - (2 Σ A·B + ε) / (Σ A + Σ B + ε), sums over c,h,w, ε = DICE_EPS = 1e-6.

    Soft Dice on soft masks; two empty masks give exactly 0, an empty against a non-empty mask
    gives ≈ 1. Stays in [0, 1] because 2ab <= a + b for a, b in [0, 1].  (B, C, H, W) x2 -> (B,)
    """
    _check_pair(a, b)
    inter = (a * b).flatten(1).sum(1)
    total = a.flatten(1).sum(1) + b.flatten(1).sum(1)
    return 1.0 - (2.0 * inter + DICE_EPS) / (total + DICE_EPS)


PHI_FUNCTIONS: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": phi_l1,
    "l2": phi_l2,
    "dice": phi_dice,
}


def phi(name: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """φ by name ("l1", "l2", "dice"); an unknown name raises LossInputError listing them."""
    check_choice("phi", name, list(PHI_FUNCTIONS))
    return PHI_FUNCTIONS[name](a, b)
