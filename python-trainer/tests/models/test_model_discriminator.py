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


def test_discriminator_term_does_not_reach_the_generator():
    torch.manual_seed(0)
    d = PatchDiscriminator(DiscriminatorConfig(base_width=4, depth=2))
    prediction = torch.rand(1, 3, 16, 16, requires_grad=True)
    losses = adversarial_losses(d, torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), prediction)
    losses.discriminator.backward()
    assert prediction.grad is None
    losses.generator.backward()
    assert prediction.grad is not None and prediction.grad.abs().sum() > 0
