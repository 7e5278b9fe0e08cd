"""Conditional PatchGAN discriminator and the adversarial loss terms (METHOD.md, "The generator").

The discriminator judges transitions, not single frames: it sees the current real frame I_t
together with a candidate next frame (real I_{t+1} or generated I^_{t+1}) and returns one logit
per image patch (its receptive field), so it penalises implausible local motion and texture.

Two loss forms are offered (`kind`), both on raw logits:

- "bce" (default), the non-saturating GAN with binary cross-entropy on logits;
- "lsgan", least squares against targets 1 (real) and 0 (fake).

`adversarial_losses` is the one place the discriminator is run for a loss; the training loop
(training/gan_step.py) calls it.

GroupNorm rather than BatchNorm keeps the discriminator independent of the batch size, so
1-process and distributed runs with the same global batch see the same function.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

LOSS_KINDS = ("bce", "lsgan")


@dataclass
class DiscriminatorConfig:
    """channels: image channels (1 or 3); base_width: first stage width; depth: stride-2 stages."""

    channels: int = 3
    base_width: int = 32
    depth: int = 3

    def validate(self) -> "DiscriminatorConfig":
        if self.channels not in (1, 3):
            raise ValueError(
                f"channels: unsupported value {self.channels!r}. Should be one of: 1, 3"
            )
        if not isinstance(self.base_width, int) or self.base_width < 2:
            raise ValueError(f"base_width: expected an integer >= 2, got {self.base_width!r}")
        if not isinstance(self.depth, int) or not 1 <= self.depth <= 6:
            raise ValueError(f"depth: expected an integer in 1..6, got {self.depth!r}")
        return self


class PatchDiscriminator(nn.Module):
    """(I_t, I_{t+1}) -> patch logits (B, 1, H / 2**depth, W / 2**depth)."""

    def __init__(self, cfg: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.cfg = (cfg or DiscriminatorConfig()).validate()
        c, w = self.cfg.channels, self.cfg.base_width
        layers: list[nn.Module] = [nn.Conv2d(2 * c, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for i in range(1, self.cfg.depth):
            c_in, c_out = w * min(2 ** (i - 1), 8), w * min(2**i, 8)
            layers += [
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                nn.GroupNorm(min(8, c_out), c_out),
                nn.LeakyReLU(0.2),
            ]
        last = w * min(2 ** (self.cfg.depth - 1), 8)
        layers.append(nn.Conv2d(last, 1, 3, padding=1))  # one logit per patch
        self.net = nn.Sequential(*layers)

    def forward(self, cond_image: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """cond_image (B,C,H,W) = I_t, image (B,C,H,W) = real or generated I_{t+1} -> logits."""
        m = 2**self.cfg.depth
        if cond_image.shape != image.shape:
            raise ValueError(
                f"image: expected the shape of cond_image {tuple(cond_image.shape)}, "
                f"got {tuple(image.shape)}"
            )
        if image.dim() != 4 or image.shape[1] != self.cfg.channels:
            raise ValueError(
                f"image: expected shape (B, {self.cfg.channels}, H, W), got {tuple(image.shape)}"
            )
        if image.shape[-2] < m or image.shape[-1] < m:
            raise ValueError(
                f"image: height and width must be >= 2**depth = {m}, got {tuple(image.shape[-2:])}"
            )
        return self.net(torch.cat([cond_image, image], dim=1))  # (B, 1, H/m, W/m)


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "bce"
) -> torch.Tensor:
    """Discriminator term, mean over patches and batch.

    bce:   L_D = 1/2 * ( -log sigmoid(D(I_t, I_{t+1})) - log(1 - sigmoid(D(I_t, I^_{t+1}))) )
    lsgan: L_D = 1/2 * ( (D(I_t, I_{t+1}) - 1)^2 + D(I_t, I^_{t+1})^2 )
    """
    _check_kind(kind)
    if kind == "bce":
        real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    else:
        real = torch.mean((real_logits - 1.0) ** 2)
        fake = torch.mean(fake_logits**2)
    return 0.5 * (real + fake)


def generator_adversarial_loss(fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Generator term L_adv (weighted by lambda_adv in the total loss, METHOD.md step 6).

    bce (non-saturating): L_adv = -log sigmoid(D(I_t, I^_{t+1}))
    lsgan:                L_adv = (D(I_t, I^_{t+1}) - 1)^2
    """
    _check_kind(kind)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return torch.mean((fake_logits - 1.0) ** 2)


class AdversarialLosses(NamedTuple):
    generator: torch.Tensor  # L_adv, back-propagates into the generator only
    discriminator: torch.Tensor  # L_D, the generated frame detached: trains only D


def adversarial_losses(
    discriminator: nn.Module,
    image: torch.Tensor,  # (B, C, H, W) real I_t
    next_image: torch.Tensor,  # (B, C, H, W) real I_{t+1}
    predicted_next_image: torch.Tensor,  # (B, C, H, W) I^_{t+1}, still on G's graph
    kind: str = "bce",
    *,
    trained: Optional[nn.Module] = None,
    autocast: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
) -> AdversarialLosses:
    """Both GAN terms for a batch of transitions: real pairs (I_t, I_{t+1}), fake (I_t, I^_{t+1}).

    generator:     L_adv = generator_adversarial_loss(D(I_t, I^_{t+1})), one pass through
                   `discriminator` with its parameters frozen for that pass, so back-propagating
                   L_adv reaches G and leaves D's gradients alone (G's step must not move D);
    discriminator: L_D = discriminator_loss(D(I_t, I_{t+1}), D(I_t, I^_{t+1}.detach())), one pass
                   over the stacked [real; fake] pairs through `trained` (default: the same
                   module). The training loop passes D's DistributedDataParallel wrapper there:
                   DDP must see exactly the one pass whose loss is back-propagated into D.

    Both passes run under `autocast`; the losses are computed from float32 logits. L_D is
    unchanged by G's optimiser step (its fake is detached, D has not moved), so the loop takes
    both terms before stepping G, then steps D on L_D.
    """
    _check_kind(kind)
    discriminator.requires_grad_(False)  # L_adv trains G only
    try:
        with autocast():
            fake_logits_g = discriminator(image, predicted_next_image)
    finally:
        discriminator.requires_grad_(True)
    cond = image.detach()
    fake = predicted_next_image.detach()
    with autocast():  # one forward over [real; fake] so DDP sees one pass
        logits = (trained or discriminator)(
            torch.cat([cond, cond]), torch.cat([next_image, fake])
        ).float()
    real_logits, fake_logits_d = logits.chunk(2)
    return AdversarialLosses(
        generator=generator_adversarial_loss(fake_logits_g.float(), kind),
        discriminator=discriminator_loss(real_logits, fake_logits_d, kind),
    )


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ValueError(
            f"kind: unsupported value {kind!r}. Should be one of: {', '.join(LOSS_KINDS)}"
        )
