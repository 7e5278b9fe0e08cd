/** IoU (Jaccard) of two binarised masks — evaluation metric. Mirrors Python `stillmotion_trainer/metrics/iou.py`. */

import type { Tensor } from "../tensor.js";
import { binaryMaskPair } from "./mask-input.js";

/** |P ∩ G| / |P ∪ G| of two 0/1 arrays; two empty masks give 1. */
export function iouOfBinary(p: Uint8Array, t: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < p.length; i++) {
    inter += p[i] & t[i];
    union += p[i] | t[i];
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * IoU = |P ∩ G| / |P ∪ G|, masks binarised at ≥ 0.5; two empty masks give 1.
 * pred, target: (H, W) or (1, H, W), values in [0, 1]. Mirrors Python `iou`.
 */
export function iou(pred: Tensor, target: Tensor): number {
  const [p, t] = binaryMaskPair(pred, target);
  return iouOfBinary(p, t);
}
