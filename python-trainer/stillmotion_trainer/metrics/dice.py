"""Dice of two binarised masks — evaluation metric (mirrored by metrics/dice.ts).

Unlike the training φ_dice (soft, with ε), this is the exact hard score reported to users.
"""

from __future__ import annotations

import numpy as np

from stillmotion_trainer.metrics._input import as_mask_pair


def dice(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice = 2 |P ∩ G| / (|P| + |G|), masks binarised at >= 0.5; two empty masks give 1.

    pred, target: (H, W) or (1, H, W), values in [0, 1].
    """
    p, t = as_mask_pair(pred, target)
    total = int(p.sum()) + int(t.sum())
    if total == 0:
        return 1.0
    return 2.0 * int((p & t).sum()) / total
