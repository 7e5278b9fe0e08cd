/** Checks for metric inputs, mirroring Python `stillmotion_trainer/metrics/_input.py`. */

import type { Tensor } from "../tensor.js";
import { checkSameShape, checkTensor } from "../validate.js";

/** Binarisation threshold: a pixel is foreground where its value is >= 0.5. */
export const MASK_THRESHOLD = 0.5;

/** Two same-shape (H, W) or (1, H, W) masks in [0, 1], binarised to 0/1. */
export function binaryMaskPair(pred: Tensor, target: Tensor): [Uint8Array, Uint8Array] {
  checkTensor("pred", pred, { ndim: [2, 3], layout: "(H, W) or (1, H, W)" });
  checkTensor("target", target, { ndim: [2, 3], layout: "(H, W) or (1, H, W)" });
  checkSameShape(["pred", "target"], [pred, target]);
  return [binarise(pred.data, 0, pred.data.length), binarise(target.data, 0, target.data.length)];
}

export function binarise(data: ArrayLike<number>, offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = data[offset + i] >= MASK_THRESHOLD ? 1 : 0;
  return out;
}

/** Two same-shape (H, W) or (C, H, W) images in [0, 1], named `a` and `b`. */
export function checkImagePair(a: Tensor, b: Tensor): void {
  checkTensor("a", a, { ndim: [2, 3], layout: "(H, W) or (C, H, W)" });
  checkTensor("b", b, { ndim: [2, 3], layout: "(H, W) or (C, H, W)" });
  checkSameShape(["a", "b"], [a, b]);
}
