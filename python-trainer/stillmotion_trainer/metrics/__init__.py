"""Evaluation metrics (numpy in, float out) and output selection (METHOD.md "Using the output")."""

from stillmotion_trainer.metrics.boundary_f import boundary_f, mask_boundary
from stillmotion_trainer.metrics.dice import dice
from stillmotion_trainer.metrics.iou import iou
from stillmotion_trainer.metrics.psnr import PSNR_CAP_DB, psnr
from stillmotion_trainer.metrics.selection import (
    SELECTION_MODES,
    select_by_similarity,
    select_fixed_step,
)
from stillmotion_trainer.metrics.ssim import ssim
from stillmotion_trainer.metrics.temporal_stability import temporal_stability

__all__ = [
    "PSNR_CAP_DB",
    "SELECTION_MODES",
    "boundary_f",
    "dice",
    "iou",
    "mask_boundary",
    "psnr",
    "select_by_similarity",
    "select_fixed_step",
    "ssim",
    "temporal_stability",
]
