"""IoU (Jaccard) of two binarised masks — evaluation metric (mirrored by metrics/iou.ts)."""

from __future__ import annotations

import numpy as np

from stillmotion_trainer.metrics._input import as_mask_pair


def iou(pred: np.ndarray, target: np.ndarray) -> float:
    """IoU = |P ∩ G| / |P ∪ G|, masks binarised at >= 0.5; two empty masks give 1.

    pred, target: (H, W) or (1, H, W), values in [0, 1].
    """
    p, t = as_mask_pair(pred, target)
    union = int((p | t).sum())
    if union == 0:
        return 1.0
    return int((p & t).sum()) / union
