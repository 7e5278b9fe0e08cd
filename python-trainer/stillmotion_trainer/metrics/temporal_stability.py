"""Temporal stability of a mask sequence — evaluation metric (metrics/temporal-stability.ts).

Propagated masks should not flicker between consecutive frames of a ~30 fps video; the mean
IoU of neighbouring masks is 1 for a perfectly steady sequence and drops with every jump.
"""

from __future__ import annotations

import numpy as np

from stillmotion_trainer.losses.validation import LossInputError
from stillmotion_trainer.metrics._input import as_unit_array
from stillmotion_trainer.metrics.iou import iou


def temporal_stability(masks: np.ndarray) -> float:
    """mean_{t=0..T-2} IoU(M_t, M_{t+1}), masks binarised at >= 0.5 (empty-empty IoU = 1).

    masks: (T, H, W) or (T, 1, H, W) with T >= 2, values in [0, 1].
    """
    m = as_unit_array("masks", masks, (3, 4), "(T, H, W) or (T, 1, H, W)")
    if m.ndim == 4 and m.shape[1] != 1:
        raise LossInputError("masks", f"expected 1 channel in (T, 1, H, W), got shape {m.shape}")
    if m.shape[0] < 2:
        raise LossInputError("masks", f"needs at least 2 frames, got shape {m.shape}")
    return float(np.mean([iou(m[t], m[t + 1]) for t in range(m.shape[0] - 1)]))
