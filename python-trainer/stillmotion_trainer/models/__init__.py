"""Networks of the method: the next-frame generator (claims 5-7) and the PatchGAN discriminator.

blocks.py (layers, padding) <- generator.py (GeneratorConfig, the literal G) <- next_frame.py
(G(I_t, M_t, I_{t+1})) <- factory.py (build_generator, takes_next_frame, count_parameters); no
module imports one to its right."""

from stillmotion_trainer.models.discriminator import (
    AdversarialLosses,
    DiscriminatorConfig,
    PatchDiscriminator,
    adversarial_losses,
    discriminator_loss,
    generator_adversarial_loss,
)
from stillmotion_trainer.models.factory import build_generator, count_parameters, takes_next_frame
from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.models.presets import PRESETS, generator_config

__all__ = [
    "AdversarialLosses",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "PRESETS",
    "PatchDiscriminator",
    "adversarial_losses",
    "build_generator",
    "count_parameters",
    "discriminator_loss",
    "generator_adversarial_loss",
    "generator_config",
    "takes_next_frame",
]
