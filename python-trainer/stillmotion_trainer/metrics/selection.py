"""Choosing which generated frames to keep — METHOD.md "Using the output" (paragraph 0072).

Mirrored by packages/losses/src/metrics/selection.ts.
"""

from __future__ import annotations

import math
from typing import List

import numpy as np
import torch

from stillmotion_trainer.losses.similarity import SIMILARITY_FUNCTIONS, similarity
from stillmotion_trainer.losses.validation import LossInputError, check_choice, check_unit_scalar
from stillmotion_trainer.metrics._input import as_unit_array

SELECTION_MODES = ("keep-dissimilar", "keep-similar")


def select_fixed_step(n: int, step: int) -> List[int]:
    """Indices 0, step, 2·step, ... below n (sampling at a fixed step size)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise LossInputError("n", f"expected an integer >= 0, got {n!r}")
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise LossInputError("step", f"expected an integer >= 1, got {step!r}")
    return list(range(0, n, step))


def select_by_similarity(
    frames: np.ndarray, mode: str, threshold: float, d_name: str = "ssim"
) -> List[int]:
    """Greedy selection by inter-frame similarity d (one of SIMILARITY_FUNCTIONS).

    Frame 0 is always kept; each later frame i is compared with the LAST KEPT frame r:
    - "keep-dissimilar" keeps i when d(r, i) < threshold (drops near-duplicates),
    - "keep-similar" keeps i when d(r, i) >= threshold (drops frames that jump away).
    frames: (N, H, W) or (N, C, H, W), N >= 1, values in [0, 1]. Returns kept indices, ascending.
    """
    x = as_unit_array("frames", frames, (3, 4), "(N, H, W) or (N, C, H, W)")
    check_choice("mode", mode, SELECTION_MODES)
    check_unit_scalar("threshold", threshold)
    check_choice("d_name", d_name, list(SIMILARITY_FUNCTIONS))
    if x.ndim == 3:
        x = x[:, None]
    t = torch.from_numpy(x)  # (N, C, H, W)
    kept = [0]
    for i in range(1, t.shape[0]):
        d = float(similarity(d_name, t[kept[-1]][None], t[i][None])[0])
        if math.isnan(d):  # cannot happen for inputs in [0, 1]; fail loudly if it ever does
            raise LossInputError("frames", f"similarity of frames {kept[-1]} and {i} is NaN")
        if (d < threshold) == (mode == "keep-dissimilar"):
            kept.append(i)
    return kept
