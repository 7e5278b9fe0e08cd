/** θ — the contrastive switch of METHOD.md steps 4-5. Mirrors Python `stillmotion_trainer/losses/theta.py`. */

import { type Tensor, tensor } from "./tensor.js";
import { checkSameShape, checkTensor, checkUnitScalar } from "./validate.js";

/** θ of one pair of numbers; `theta` without the checks, for the batched losses. */
export function thetaValue(phiValue: number, dValue: number, gamma1: number, gamma2: number): number {
  if (dValue >= gamma1) return phiValue;
  const hinge = gamma2 - phiValue;
  return Math.max(hinge, 0);
}

/**
 * θ(φ, d) = φ if d ≥ γ1 (alike frames: masks should match), else max(0, γ2 − φ) (unlike frames:
 * masks should differ by at least the margin γ2). d exactly at γ1 takes the first branch.
 * φ and d have the same shape, values in [0, 1]. Mirrors Python `theta`.
 */
export function theta(phiValue: Tensor, dValue: Tensor, gamma1: number, gamma2: number): Tensor {
  checkTensor("phiValue", phiValue);
  checkTensor("dValue", dValue);
  checkSameShape(["phiValue", "dValue"], [phiValue, dValue]);
  const g1 = checkUnitScalar("gamma1", gamma1);
  const g2 = checkUnitScalar("gamma2", gamma2);
  const out = new Float64Array(phiValue.data.length);
  for (let i = 0; i < out.length; i++) out[i] = thetaValue(phiValue.data[i], dValue.data[i], g1, g2);
  return tensor(out, phiValue.shape);
}
