"""The conditional PatchGAN and the adversarial terms, checked against numpy formulas."""

import numpy as np
import pytest
import torch

from stillmotion_trainer.models.discriminator import (
    DiscriminatorConfig,
    PatchDiscriminator,
    adversarial_losses,
    discriminator_loss,
    generator_adversarial_loss,
)


def _np_log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_patch_logits_shape(channels, depth):
    d = PatchDiscriminator(DiscriminatorConfig(channels=channels, base_width=4, depth=depth))
    logits = d(torch.rand(2, channels, 32, 24), torch.rand(2, channels, 32, 24))
    assert logits.shape == (2, 1, 32 // 2**depth, 24 // 2**depth)


def test_condition_matters():
    torch.manual_seed(0)
    d = PatchDiscriminator(DiscriminatorConfig(base_width=4, depth=2))
    image = torch.rand(1, 3, 16, 16)
    assert not torch.equal(d(torch.rand(1, 3, 16, 16), image), d(torch.rand(1, 3, 16, 16), image))


def test_too_small_or_mismatched_inputs_raise():
    d = PatchDiscriminator(DiscriminatorConfig(base_width=4, depth=3))
    with pytest.raises(ValueError, match=">= 2\\*\\*depth = 8"):
        d(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="expected the shape of cond_image"):
        d(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 16))


def test_losses_match_numpy_formulas():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 1, 3, 3)), rng.normal(size=(2, 1, 3, 3))
    r, f = torch.tensor(real), torch.tensor(fake)
    bce_d = 0.5 * (-_np_log_sigmoid(real).mean() - _np_log_sigmoid(-fake).mean())
    assert float(discriminator_loss(r, f, "bce")) == pytest.approx(bce_d, rel=1e-9)
    ls_d = 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    assert float(discriminator_loss(r, f, "lsgan")) == pytest.approx(ls_d, rel=1e-9)
    assert float(generator_adversarial_loss(f, "bce")) == pytest.approx(
        -_np_log_sigmoid(fake).mean(), rel=1e-9
    )
    assert float(generator_adversarial_loss(f, "lsgan")) == pytest.approx(
        ((fake - 1) ** 2).mean(), rel=1e-9
    )


def test_unknown_kind_lists_allowed():
    with pytest.raises(
        ValueError, match="kind: unsupported value 'wgan'. Should be one of: bce, lsgan"
    ):
        generator_adversarial_loss(torch.zeros(1), "wgan")


def test_each_term_reaches_only_the_network_it_trains():
    """L_D never reaches G (the prediction is detached); L_adv, back-propagated in G's step,
    never reaches D (frozen for that pass, unfrozen again for D's own step)."""
    torch.manual_seed(0)
    d = PatchDiscriminator(DiscriminatorConfig(base_width=4, depth=2))
    prediction = torch.rand(1, 3, 16, 16, requires_grad=True)
    losses = adversarial_losses(d, torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), prediction)
    losses.discriminator.backward()
    assert prediction.grad is None
    assert all(p.grad is not None for p in d.parameters())
    d.zero_grad(set_to_none=True)
    losses.generator.backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters())
    assert all(p.requires_grad for p in d.parameters())


class _CountingWrapper(torch.nn.Module):
    """Stands where DistributedDataParallel stands in the loop: records each pass through it."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module
        self.batch_sizes: list[int] = []

    def forward(self, cond: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(cond.shape[0])
        return self.module(cond, image)


def test_discriminator_term_is_one_pass_over_real_and_fake_through_the_trained_module():
    torch.manual_seed(0)
    d = PatchDiscriminator(DiscriminatorConfig(base_width=4, depth=2))
    wrapper = _CountingWrapper(d)
    image, nxt, pred = (torch.rand(3, 3, 16, 16) for _ in range(3))
    wrapped = adversarial_losses(d, image, nxt, pred, "lsgan", trained=wrapper)
    assert wrapper.batch_sizes == [6]  # [real; fake] stacked: DDP sees exactly one pass
    expected = discriminator_loss(d(image, nxt), d(image, pred), "lsgan")
    assert torch.allclose(wrapped.discriminator, expected, rtol=1e-6, atol=1e-7)
    assert torch.allclose(wrapped.generator, generator_adversarial_loss(d(image, pred), "lsgan"))
