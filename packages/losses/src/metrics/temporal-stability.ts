/**
 * Temporal stability of a mask sequence — evaluation metric: propagated masks should not
 * flicker between consecutive frames. Mirrors Python `stillmotion_trainer/metrics/temporal_stability.py`.
 */

import { LossInputError } from "../errors.js";
import { formatShape, type Tensor } from "../tensor.js";
import { checkTensor } from "../validate.js";
import { iouOfBinary } from "./iou.js";
import { binarise } from "./mask-input.js";

/**
 * mean_{t=0..T−2} IoU(M_t, M_{t+1}), masks binarised at ≥ 0.5 (empty-empty IoU = 1).
 * masks: (T, H, W) or (T, 1, H, W) with T ≥ 2, values in [0, 1]. Mirrors Python `temporal_stability`.
 */
export function temporalStability(masks: Tensor): number {
  checkTensor("masks", masks, { ndim: [3, 4], layout: "(T, H, W) or (T, 1, H, W)" });
  if (masks.shape.length === 4 && masks.shape[1] !== 1) {
    throw new LossInputError(
      "masks",
      `expected 1 channel in (T, 1, H, W), got shape ${formatShape(masks.shape)}`,
    );
  }
  const steps = masks.shape[0];
  if (steps < 2)
    throw new LossInputError("masks", `needs at least 2 frames, got shape ${formatShape(masks.shape)}`);
  const n = masks.data.length / steps;
  let total = 0;
  let prev = binarise(masks.data, 0, n);
  for (let t = 1; t < steps; t++) {
    const cur = binarise(masks.data, t * n, n);
    total += iouOfBinary(prev, cur);
    prev = cur;
  }
  return total / (steps - 1);
}
