"""Evaluation of a trained generator: Fig. 6 propagation, baselines, and the eval report.

docs/evaluation.md describes what is measured and how to read it. OpenCV is imported only
inside the flow baseline's functions, so the rest works without it.
"""

from stillmotion_trainer.evaluation.baselines import FarnebackParams, copy_key_masks, flow_masks
from stillmotion_trainer.evaluation.chains import FUSIONS, Chain, fuse_chains, plan_chains
from stillmotion_trainer.evaluation.evaluate import EvalOptions, EvaluationError, evaluate
from stillmotion_trainer.evaluation.propagation import (
    generator_step,
    predict_next_frames,
    propagate_masks,
)

__all__ = [
    "Chain",
    "EvalOptions",
    "EvaluationError",
    "FUSIONS",
    "FarnebackParams",
    "copy_key_masks",
    "evaluate",
    "flow_masks",
    "fuse_chains",
    "generator_step",
    "plan_chains",
    "predict_next_frames",
    "propagate_masks",
]
