"""θ: both branches, d exactly at γ1, the margin, and bad thresholds."""

from __future__ import annotations

import pytest
import torch

from stillmotion_trainer.losses import LossInputError, theta


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_alike_frames_take_phi_unchanged() -> None:
    assert theta(t(0.3, 0.9), t(0.85, 1.0), 0.8, 0.5).tolist() == [0.3, 0.9]


def test_d_exactly_at_gamma1_counts_as_alike() -> None:
    assert theta(t(0.25), t(0.75), 0.75, 0.5).tolist() == [0.25]
    assert theta(t(0.25), t(0.75 - 1e-12), 0.75, 0.5).tolist() == [0.25]  # 0.5 - 0.25


def test_unlike_frames_take_the_hinge_on_the_margin() -> None:
    got = theta(t(0.1, 0.5, 0.7, 0.0), t(0.2, 0.2, 0.2, 0.0), 0.8, 0.5)
    torch.testing.assert_close(got, t(0.4, 0.0, 0.0, 0.5))


def test_gradients_follow_the_branch() -> None:
    phi_value = t(0.2, 0.2, 0.7).requires_grad_()
    theta(phi_value, t(0.9, 0.1, 0.1), 0.8, 0.5).sum().backward()
    assert phi_value.grad is not None
    assert phi_value.grad.tolist() == [1.0, -1.0, 0.0]  # match, push apart, margin met


def test_theta_rejects_bad_thresholds_and_shapes() -> None:
    with pytest.raises(LossInputError, match=r"^gamma1: expected a number in \[0, 1\], got 1.5"):
        theta(t(0.1), t(0.1), 1.5, 0.5)
    with pytest.raises(LossInputError, match="^gamma2: expected a number in"):
        theta(t(0.1), t(0.1), 0.5, float("nan"))
    with pytest.raises(LossInputError, match=r"^d_value: shape \(2,\) does not match phi_value"):
        theta(t(0.1), t(0.1, 0.2), 0.5, 0.5)
    with pytest.raises(LossInputError, match="^phi_value: contains NaN"):
        theta(t(float("nan")), t(0.1), 0.5, 0.5)
