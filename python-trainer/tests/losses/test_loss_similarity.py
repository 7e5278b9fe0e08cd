"""d (ssim, 1-l1, ncc) against the independent numpy version, tiny sizes and flat images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import numpy_reference as ref
from stillmotion_trainer.losses import SIMILARITY_FUNCTIONS, d_ncc, d_ssim, similarity
from stillmotion_trainer.losses.similarity import ssim_per_sample

SHAPES = [(2, 1, 3, 5), (2, 3, 7, 9), (1, 1, 1, 1), (1, 3, 2, 13), (2, 1, 16, 16)]


def _correlated_pair(shape: tuple, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """b = a plus noise, so SSIM and NCC land inside (0, 1) rather than on the clamp."""
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    return a, np.clip(a + rng.normal(0, 0.1, shape), 0, 1)


@pytest.mark.parametrize("name", ["ssim", "1-l1", "ncc"])
@pytest.mark.parametrize("shape", SHAPES)
def test_similarity_matches_numpy(name: str, shape: tuple) -> None:
    a, b = _correlated_pair(shape, seed=sum(shape))
    got = similarity(name, torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, ref.similarity(name, a, b), rtol=1e-10, atol=1e-12)
    assert got.shape == (shape[0],) and np.all((got >= 0) & (got <= 1))


@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 1, 3, 5), (3, 1, 12, 10)])
def test_unclamped_ssim_matches_numpy_on_unrelated_images(shape: tuple) -> None:
    rng = np.random.default_rng(7)
    a, b = rng.random(shape), rng.random(shape)
    got = ssim_per_sample(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, ref.ssim_mean(a, b), rtol=1e-10, atol=1e-12)


def test_ssim_float32_on_3x5_matches_numpy() -> None:
    a, b = _correlated_pair((2, 3, 3, 5), seed=11)
    got = d_ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(got, ref.similarity("ssim", a, b), atol=2e-5)


@pytest.mark.parametrize("name", ["ssim", "1-l1", "ncc"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_identical_images_have_similarity_exactly_one(name: str, dtype: torch.dtype) -> None:
    x = torch.rand(3, 3, 5, 7, generator=torch.Generator().manual_seed(0), dtype=dtype)
    assert similarity(name, x, x.clone()).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", ["ssim", "1-l1", "ncc"])
def test_similarity_is_symmetric(name: str) -> None:
    a, b = _correlated_pair((2, 3, 6, 5), seed=3)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    torch.testing.assert_close(similarity(name, ta, tb), similarity(name, tb, ta))


def test_ncc_flat_image_conventions() -> None:
    black = torch.zeros(1, 1, 3, 5, dtype=torch.float64)
    white = torch.ones(1, 1, 3, 5, dtype=torch.float64)
    texture = torch.rand(1, 1, 3, 5, generator=torch.Generator().manual_seed(1)).double()
    assert d_ncc(black, white).tolist() == [1.0]  # both flat: NCC ignores offset
    assert d_ncc(black, texture).tolist() == [0.0]  # one flat: unrelated
    assert d_ncc(texture, 1 - texture).tolist() == [0.0]  # anti-correlated is clamped to 0


def test_ssim_of_inverted_image_clamps_to_zero() -> None:
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(2)).double()
    assert float(ssim_per_sample(x, 1 - x)[0]) < 0
    assert d_ssim(x, 1 - x).tolist() == [0.0]


@pytest.mark.parametrize("name", ["ssim", "1-l1", "ncc"])
def test_similarity_backpropagates_finite_gradients(name: str) -> None:
    a, b = _correlated_pair((2, 3, 5, 6), seed=5)
    ta = torch.from_numpy(a).requires_grad_()
    similarity(name, ta, torch.from_numpy(b)).sum().backward()
    assert ta.grad is not None and torch.isfinite(ta.grad).all()
    flat = torch.zeros(1, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    similarity(name, flat, torch.full((1, 1, 3, 3), 0.5, dtype=torch.float64)).sum().backward()
    assert flat.grad is not None and torch.isfinite(flat.grad).all()


def test_unknown_d_lists_allowed_names() -> None:
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match='d: unsupported value "psnr". Should be one of: ssim'):
        similarity("psnr", x, x)
    assert list(SIMILARITY_FUNCTIONS) == ["ssim", "1-l1", "ncc"]


def test_similarity_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"^b: shape \(1, 3, 4, 4\) does not match a"):
        d_ssim(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="^a: contains NaN"):
        d_ncc(torch.full((1, 1, 2, 2), float("nan")), torch.zeros(1, 1, 2, 2))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ssim_of_half_precision_inputs_is_computed_in_float32(dtype: torch.dtype) -> None:
    a, b = _correlated_pair((2, 3, 12, 12), seed=12)
    ta, tb = torch.from_numpy(a).to(dtype), torch.from_numpy(b).to(dtype)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = d_ssim(ta, tb)
    assert got.dtype == torch.float32
    want = ref.similarity("ssim", ta.double().numpy(), tb.double().numpy())
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)
