"""θ — the contrastive switch of METHOD.md steps 4-5. Mirrored by packages/losses/src/theta.ts."""

from __future__ import annotations

import torch

from stillmotion_trainer.losses.validation import check_same_shape, check_tensor, check_unit_scalar


def theta(
    phi_value: torch.Tensor, d_value: torch.Tensor, gamma1: float, gamma2: float
) -> torch.Tensor:
    """θ(φ, d) = φ if d >= γ1 (alike frames: masks should match), else max(0, γ2 - φ).

    The second branch pushes masks of unlike frames apart by at least the margin γ2. d exactly
    at γ1 takes the first branch. φ and d have the same shape (usually (B,)), values in [0, 1].
    """
    check_tensor("phi_value", phi_value)
    check_tensor("d_value", d_value)
    check_same_shape(["phi_value", "d_value"], [phi_value, d_value])
    g1 = check_unit_scalar("gamma1", gamma1)
    g2 = check_unit_scalar("gamma2", gamma2)
    return torch.where(d_value >= g1, phi_value, torch.relu(g2 - phi_value))
