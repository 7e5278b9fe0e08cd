/** SSIM of two images — evaluation metric. Mirrors Python `stillmotion_trainer/metrics/ssim.py`. */

import { SsimScratch, ssimKernel } from "../similarity.js";
import type { Tensor } from "../tensor.js";
import { checkImagePair } from "./mask-input.js";

/**
 * Mean SSIM over channels and pixels (11-tap Gaussian σ 1.5, C1 = 0.01², C2 = 0.03²), NOT
 * clamped, so in [−1, 1]. The formula's home is `ssimKernel` in similarity.ts.
 * a, b: (H, W) or (C, H, W), values in [0, 1]. Mirrors Python `ssim`.
 */
export function ssim(a: Tensor, b: Tensor): number {
  checkImagePair(a, b);
  const [c, h, w] = a.shape.length === 2 ? [1, a.shape[0], a.shape[1]] : a.shape;
  return ssimKernel(a.data, 0, b.data, 0, c, h, w, new SsimScratch(h, w));
}
