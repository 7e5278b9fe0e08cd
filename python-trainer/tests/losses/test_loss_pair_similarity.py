"""d of many pairs from one stack (pair_similarity / ssim_pairs) equals d pair by pair."""

from __future__ import annotations

import pytest
import torch

from stillmotion_trainer.losses import LossInputError
from stillmotion_trainer.losses.similarity import (
    SIMILARITY_FUNCTIONS,
    pair_similarity,
    ssim_pairs,
    ssim_per_sample,
)


def _stack(n: int = 6, c: int = 3, h: int = 13, w: int = 11) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, c, h, w, generator=g)
    noise = 0.3 * torch.rand(n, c, h, w, generator=g)
    return (0.7 * base + noise).clamp(0, 1)  # alike enough that SSIM spreads over (0, 1)


FIRST = torch.tensor([0, 1, 2, 5, 3, 4, 4])
SECOND = torch.tensor([1, 0, 2, 0, 4, 3, 1])  # with a repeat in both orders and a self-pair


@pytest.mark.parametrize("name", list(SIMILARITY_FUNCTIONS))
def test_pair_similarity_equals_similarity_of_the_gathered_pairs(name):
    images = _stack()
    want = SIMILARITY_FUNCTIONS[name](images[FIRST], images[SECOND])
    got = pair_similarity(name, images, FIRST, SECOND)
    assert got.shape == (len(FIRST),)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_ssim_pairs_is_unclamped_ssim_and_symmetric():
    images = _stack(c=1, h=9, w=9)
    images[5] = 1 - images[0]  # anti-correlated: SSIM below 0, which d clamps
    got = ssim_pairs(images, FIRST, SECOND)
    torch.testing.assert_close(got, ssim_per_sample(images[FIRST], images[SECOND]), rtol=0,
                               atol=1e-6)  # fmt: skip
    assert float(got[3]) < 0
    assert torch.equal(got[0], got[1]) and torch.equal(got[4], got[5])  # d(a, b) == d(b, a)
    assert float(got[2]) == 1.0  # an image against itself


def test_pair_similarity_refuses_mismatched_indices_and_unknown_names():
    images = _stack()
    with pytest.raises(LossInputError, match="first"):
        pair_similarity("ssim", images, FIRST, SECOND[:3])
    with pytest.raises(LossInputError, match="Should be one of"):
        pair_similarity("psnr", images, FIRST, SECOND)
