"""The GAN half of training (train.gan): the discriminator, its optimiser, its step.

METHOD.md ("The generator") lets training be adversarial: a discriminator D judges real
(I_t, I_{t+1}) pairs against generated (I_t, I^_{t+1}) pairs. Per step, as in Lightning's GAN
example: both terms come from models/discriminator.adversarial_losses before G's step; G is
stepped on its loss plus lambda_adv L_adv (step.py); then D is stepped on L_D here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import nn

from stillmotion_trainer.models.discriminator import (
    AdversarialLosses,
    DiscriminatorConfig,
    PatchDiscriminator,
    adversarial_losses,
)
from stillmotion_trainer.training.config import GanConfig
from stillmotion_trainer.training.walk_pass import WalkBatch


@dataclass
class Gan:
    """D and what trains it."""

    discriminator: PatchDiscriminator  # the bare module: checkpoints, L_adv's frozen pass
    trained: nn.Module  # D as its own step runs it: DDP-wrapped when distributed
    optimizer: torch.optim.Optimizer
    loss_kind: str  # discriminator.LOSS_KINDS


def build_gan(cfg: GanConfig, channels: int, device: torch.device) -> Optional[Gan]:
    """D and its AdamW (betas (0.5, 0.999), the usual GAN choice) when train.gan is on."""
    if not cfg.enabled:
        return None
    d_cfg = DiscriminatorConfig(
        channels=channels, base_width=cfg.discriminator.base_width, depth=cfg.discriminator.depth
    )
    disc = PatchDiscriminator(d_cfg).to(device)
    optimizer = torch.optim.AdamW(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    return Gan(discriminator=disc, trained=disc, optimizer=optimizer, loss_kind=cfg.loss_kind)


def gan_losses(gan: Gan, wb: WalkBatch, autocast: Callable[[], Any]) -> AdversarialLosses:
    """L_adv and L_D over every transition of the batch's walks (W*J pairs)."""
    return adversarial_losses(
        gan.discriminator,
        wb.frames_in.flatten(0, 1),  # (W*J, C, H, W) I_{s_j}
        wb.frames_next.flatten(0, 1),  # real I_{s_{j+1}}
        wb.pred_images.flatten(0, 1),  # I^_{s_{j+1}}
        gan.loss_kind,
        trained=gan.trained,
        autocast=autocast,
    )


def discriminator_step(gan: Gan, d_loss: torch.Tensor, scaler: torch.cuda.amp.GradScaler) -> float:
    """One optimiser step of D on L_D (after G's step; the caller updates the scaler)."""
    gan.optimizer.zero_grad(set_to_none=True)
    scaler.scale(d_loss).backward()
    scaler.step(gan.optimizer)
    return float(d_loss)
