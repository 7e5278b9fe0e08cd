"""L_I, L_M1, L_M2 (METHOD.md steps 3-5) against the independent numpy composition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_reference as ref
from stillmotion_trainer.losses import (
    LossInputError,
    first_mask_loss,
    image_loss,
    second_mask_loss,
)

T = torch.from_numpy


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("phi_name", ["l1", "l2", "dice"])
def test_image_loss_is_phi_of_target_and_prediction(c: int, phi_name: str) -> None:
    rng = np.random.default_rng(c)
    a, b = rng.random((3, c, 5, 7)), rng.random((3, c, 5, 7))
    np.testing.assert_allclose(image_loss(T(a), T(b), phi_name).numpy(), ref.phi(phi_name, a, b))


@pytest.mark.parametrize("d_name", ["ssim", "1-l1", "ncc"])
@pytest.mark.parametrize("gamma1", [0.0, 0.5, 1.0])
def test_first_mask_loss_matches_numpy(d_name: str, gamma1: float) -> None:
    rng = np.random.default_rng(int(gamma1 * 10))
    m_in, m_out = rng.random((4, 1, 5, 6)), rng.random((4, 1, 5, 6))
    i_in = rng.random((4, 3, 5, 6))
    i_next = np.clip(i_in + rng.normal(0, 0.2, i_in.shape), 0, 1)
    got = first_mask_loss(T(m_in), T(m_out), T(i_in), T(i_next), "dice", d_name, gamma1, 0.6)
    want = ref.theta(
        ref.phi("dice", m_in, m_out), ref.similarity(d_name, i_in, i_next), gamma1, 0.6
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_first_mask_loss_with_d_exactly_at_gamma1() -> None:
    # 1-l1 of a black and a 0.25-grey image is exactly 0.75 in binary floating point.
    black = torch.zeros(1, 3, 3, 5, dtype=torch.float64)
    grey = torch.full((1, 3, 3, 5), 0.25, dtype=torch.float64)
    empty = torch.zeros(1, 1, 3, 5, dtype=torch.float64)
    full = torch.ones(1, 1, 3, 5, dtype=torch.float64)
    at = first_mask_loss(empty, full, black, grey, "l1", "1-l1", 0.75, 0.5)
    below = first_mask_loss(empty, full, black, grey, "l1", "1-l1", 0.75 + 1e-9, 0.5)
    assert at.tolist() == [1.0] and below.tolist() == [0.0]


def _keys(rng: np.random.Generator, b: int, k: int, c: int, h: int, w: int):
    return rng.random((b, k, 1, h, w)), rng.random((b, k, c, h, w))


@pytest.mark.parametrize("c", [1, 3])
def test_second_mask_loss_averages_valid_key_frames(c: int) -> None:
    rng = np.random.default_rng(5 + c)
    km, ki = _keys(rng, 3, 3, c, 4, 5)
    valid = np.array([[True, False, True], [False, False, False], [True, True, True]])
    m_out, i_next = rng.random((3, 1, 4, 5)), rng.random((3, c, 4, 5))
    got = second_mask_loss(T(km), T(ki), T(valid), T(m_out), T(i_next), "l2", "ncc", 0.3, 0.4)
    want = []
    for v in range(3):
        terms = [
            ref.theta(
                ref.phi("l2", km[v, k : k + 1], m_out[v : v + 1]),
                ref.similarity("ncc", ki[v, k : k + 1], i_next[v : v + 1]),
                0.3,
                0.4,
            )[0]
            for k in range(3)
            if valid[v, k]
        ]
        want.append(np.mean(terms) if terms else 0.0)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    assert got[1].item() == 0.0


def test_second_mask_loss_with_no_key_frames_is_zero_and_differentiable() -> None:
    m_out = torch.rand(2, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    got = second_mask_loss(
        torch.zeros(2, 0, 1, 3, 3),
        torch.zeros(2, 0, 3, 3, 3),
        torch.zeros(2, 0, dtype=torch.bool),
        m_out,
        torch.rand(2, 3, 3, 3),
        "dice",
        "ssim",
        0.8,
        0.5,
    )
    assert got.tolist() == [0.0, 0.0]
    got.sum().backward()
    assert m_out.grad is not None


def test_method_losses_name_the_bad_argument() -> None:
    m = torch.zeros(2, 1, 4, 4)
    i = torch.zeros(2, 3, 4, 4)
    with pytest.raises(LossInputError, match=r"^mask_in: expected 1 channel"):
        first_mask_loss(i, m, i, i, "dice", "ssim", 0.8, 0.5)
    with pytest.raises(LossInputError, match=r"^mask_out: shape \(2, 1, 4, 4\) does not match"):
        first_mask_loss(m, m, i, torch.zeros(2, 3, 4, 5), "dice", "ssim", 0.8, 0.5)
    with pytest.raises(LossInputError, match="^key_valid: expected a bool tensor"):
        second_mask_loss(
            torch.zeros(2, 1, 1, 4, 4), torch.zeros(2, 1, 3, 4, 4), torch.ones(2, 1), m, i,
            "dice", "ssim", 0.8, 0.5,
        )  # fmt: skip
    with pytest.raises(LossInputError, match="^key_images: shape"):
        second_mask_loss(
            torch.zeros(2, 1, 1, 4, 4), torch.zeros(2, 1, 1, 4, 4),
            torch.ones(2, 1, dtype=torch.bool), m, i, "dice", "ssim", 0.8, 0.5,
        )  # fmt: skip
    with pytest.raises(LossInputError, match='^phi: unsupported value "bce"'):
        image_loss(i, i, "bce")


def test_second_mask_loss_needs_key_images_or_a_given_d():
    masks = torch.zeros(2, 1, 1, 4, 5)
    out, image = torch.zeros(2, 1, 4, 5), torch.zeros(2, 3, 4, 5)
    valid = torch.ones(2, 1, dtype=torch.bool)
    with pytest.raises(LossInputError, match="^key_images: required when d_value is not given"):
        second_mask_loss(masks, None, valid, out, image, "l1", "ssim", 0.5, 0.5)
    got = second_mask_loss(masks, None, valid, out, image, "l1", "ssim", 0.5, 0.5,
                           d_value=torch.tensor([[1.0], [0.0]]))  # fmt: skip
    assert got.tolist() == [0.0, 0.5]  # alike: φ = 0; unlike: max(0, γ2 - φ) = 0.5
