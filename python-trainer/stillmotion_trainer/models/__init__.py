"""Networks of the method: the next-frame generator (claims 5-7) and the PatchGAN discriminator."""

from stillmotion_trainer.models.discriminator import (
    AdversarialLosses,
    DiscriminatorConfig,
    PatchDiscriminator,
    adversarial_losses,
    discriminator_loss,
    generator_adversarial_loss,
)
from stillmotion_trainer.models.generator import (
    GeneratorConfig,
    build_generator,
    count_parameters,
)
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
]
