"""φ (l1, l2, dice) against the independent numpy version, edge cases and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_reference as ref
from stillmotion_trainer.losses import LossInputError, phi, phi_dice, phi_l1, phi_l2
from stillmotion_trainer.losses.phi import PHI_FUNCTIONS

SHAPES = [(2, 1, 3, 5), (3, 3, 7, 9), (1, 1, 1, 1), (2, 3, 16, 16)]


@pytest.mark.parametrize("name", ["l1", "l2", "dice"])
@pytest.mark.parametrize("shape", SHAPES)
def test_phi_matches_numpy_on_random_inputs(name: str, shape: tuple) -> None:
    rng = np.random.default_rng(hash((name, shape)) % 2**32)
    a, b = rng.random(shape), rng.random(shape)
    got = phi(name, torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, ref.phi(name, a, b), rtol=1e-12, atol=1e-12)
    assert got.shape == (shape[0],)
    assert np.all((got >= 0) & (got <= 1))


@pytest.mark.parametrize("name", ["l1", "l2", "dice"])
def test_phi_float32_matches_numpy(name: str) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 3, 9, 11)).astype(np.float32), rng.random((2, 3, 9, 11)).astype(
        np.float32
    )
    got = phi(name, torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, ref.phi(name, a, b), rtol=1e-5, atol=1e-6)


def test_dice_of_two_empty_masks_is_zero() -> None:
    empty = torch.zeros(2, 1, 3, 5, dtype=torch.float64)
    assert phi_dice(empty, empty).tolist() == [0.0, 0.0]


def test_dice_of_empty_against_full_is_one_up_to_eps() -> None:
    empty = torch.zeros(1, 1, 3, 5, dtype=torch.float64)
    full = torch.ones(1, 1, 3, 5, dtype=torch.float64)
    value = float(phi_dice(empty, full)[0])
    assert value == pytest.approx(1.0 - 1e-6 / (15 + 1e-6), abs=1e-15)
    assert phi_dice(full, full).tolist() == [0.0]


@pytest.mark.parametrize("fn", [phi_l1, phi_l2, phi_dice])
def test_phi_is_symmetric_and_zero_on_identical_binary_masks(fn) -> None:
    rng = np.random.default_rng(2)
    a = torch.from_numpy(rng.random((2, 1, 5, 7)))
    b = torch.from_numpy(rng.random((2, 1, 5, 7)))
    torch.testing.assert_close(fn(a, b), fn(b, a))
    binary = (a > 0.5).double()
    assert fn(binary, binary).tolist() == [0.0, 0.0]


def test_phi_l1_and_l2_of_opposite_binary_images_are_one() -> None:
    zeros = torch.zeros(1, 3, 4, 4)
    ones = torch.ones(1, 3, 4, 4)
    assert phi_l1(zeros, ones).tolist() == [1.0]
    assert phi_l2(zeros, ones).tolist() == [1.0]


@pytest.mark.parametrize("fn", [phi_l1, phi_l2, phi_dice])
def test_phi_is_differentiable(fn) -> None:
    rng = np.random.default_rng(3)
    a = torch.from_numpy(rng.uniform(0.1, 0.9, (2, 1, 3, 4))).requires_grad_()
    b = torch.from_numpy(rng.uniform(0.1, 0.9, (2, 1, 3, 4))).requires_grad_()
    assert torch.autograd.gradcheck(fn, (a, b))


def test_unknown_phi_lists_allowed_names() -> None:
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match='phi: unsupported value "l3". Should be one of: l1, l2'):
        phi("l3", x, x)
    assert set(PHI_FUNCTIONS) == {"l1", "l2", "dice"}


def test_phi_rejects_mismatched_shapes_naming_the_argument() -> None:
    with pytest.raises(LossInputError, match=r"^b: shape \(1, 1, 2, 3\) does not match a"):
        phi_l1(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3))


def test_phi_rejects_wrong_rank() -> None:
    with pytest.raises(LossInputError, match=r"^a: expected a 4-D tensor \(B, C, H, W\)"):
        phi_l2(torch.zeros(2, 2), torch.zeros(2, 2))


def test_phi_rejects_nan_and_out_of_range() -> None:
    good = torch.zeros(1, 1, 2, 2)
    nan = good.clone()
    nan[0, 0, 1, 1] = float("nan")
    with pytest.raises(LossInputError, match="^b: contains NaN"):
        phi_dice(good, nan)
    with pytest.raises(LossInputError, match=r"^a: values must lie in \[0, 1\], got min -1"):
        phi_dice(good - 1, good)
    err = pytest.raises(LossInputError, phi_l1, good, good + 2).value
    assert err.code == "INVALID_ARGUMENT" and err.argument == "b"


def test_phi_rejects_non_tensor_and_integer_input() -> None:
    with pytest.raises(LossInputError, match="^a: expected a torch.Tensor, got list"):
        phi_l1([0.0], torch.zeros(1, 1, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(LossInputError, match="^a: expected a floating-point tensor"):
        phi_l1(torch.zeros(1, 1, 1, 1, dtype=torch.int64), torch.zeros(1, 1, 1, 1))
