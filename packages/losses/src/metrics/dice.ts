/** Dice of two binarised masks — evaluation metric. Mirrors Python `stillmotion_trainer/metrics/dice.py`. */

import type { Tensor } from "../tensor.js";
import { binaryMaskPair } from "./mask-input.js";

/**
 * Dice = 2 |P ∩ G| / (|P| + |G|), masks binarised at ≥ 0.5; two empty masks give 1.
 * Unlike the training φ_dice (soft, with ε) this is the exact hard score.
 * pred, target: (H, W) or (1, H, W), values in [0, 1]. Mirrors Python `dice`.
 */
export function dice(pred: Tensor, target: Tensor): number {
  const [p, t] = binaryMaskPair(pred, target);
  let inter = 0;
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    inter += p[i] & t[i];
    total += p[i] + t[i];
  }
  return total === 0 ? 1 : (2 * inter) / total;
}
