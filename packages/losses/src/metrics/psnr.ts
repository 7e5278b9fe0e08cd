/** PSNR with data range 1 — evaluation metric. Mirrors Python `stillmotion_trainer/metrics/psnr.py`. */

import type { Tensor } from "../tensor.js";
import { checkImagePair } from "./mask-input.js";

/** Identical images have infinite PSNR; the cap keeps means and JSON finite. Python `PSNR_CAP_DB`. */
export const PSNR_CAP_DB = 100;

/**
 * PSNR = min(10 log10(1 / MSE), 100) dB, MSE over every element; MSE = 0 gives 100.
 * a, b: (H, W) or (C, H, W), values in [0, 1]. Mirrors Python `psnr`.
 */
export function psnr(a: Tensor, b: Tensor): number {
  checkImagePair(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) {
    const e = a.data[i] - b.data[i];
    s += e * e;
  }
  const mse = s / a.data.length;
  if (mse === 0) return PSNR_CAP_DB;
  return Math.min(PSNR_CAP_DB, -10 * Math.log10(mse));
}
