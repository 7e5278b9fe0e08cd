"""The method's losses (METHOD.md steps 3-6): φ, d, θ, L_I, L_M1, L_M2 and the training loss."""

from stillmotion_trainer.losses.method_losses import first_mask_loss, image_loss, second_mask_loss
from stillmotion_trainer.losses.phi import PHI_FUNCTIONS, phi, phi_dice, phi_l1, phi_l2
from stillmotion_trainer.losses.similarity import (
    SIMILARITY_FUNCTIONS,
    d_ncc,
    d_one_minus_l1,
    d_ssim,
    similarity,
)
from stillmotion_trainer.losses.theta import theta
from stillmotion_trainer.losses.training_loss import LossConfig, training_loss
from stillmotion_trainer.losses.validation import LossInputError

__all__ = [
    "LossConfig",
    "LossInputError",
    "PHI_FUNCTIONS",
    "SIMILARITY_FUNCTIONS",
    "d_ncc",
    "d_one_minus_l1",
    "d_ssim",
    "first_mask_loss",
    "image_loss",
    "phi",
    "phi_dice",
    "phi_l1",
    "phi_l2",
    "second_mask_loss",
    "similarity",
    "theta",
    "training_loss",
]
