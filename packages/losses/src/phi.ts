/**
 * φ — the 2-D dissimilarity of METHOD.md "One training step", steps 3-5, in [0, 1] per sample.
 * Mirrors Python `stillmotion_trainer/losses/phi.py`. Each φ maps two (B, C, H, W) tensors with
 * values in [0, 1] to (B,), averaging over C, H, W.
 */

import { type Tensor, tensor } from "./tensor.js";
import { checkChoice, checkSameShape, checkTensor } from "./validate.js";

/** Soft-Dice smoothing: two empty masks give φ = 0; exact to ~1e-6 at any size. Python `DICE_EPS`. */
export const DICE_EPS = 1e-6;

export const PHI_NAMES = ["l1", "l2", "dice"] as const;
export type PhiName = (typeof PHI_NAMES)[number];

/** φ of one sample: `n` values of `a` from `ao` against `n` values of `b` from `bo`. */
export type PhiKernel = (
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  n: number,
) => number;

/** mean |a - b| */
export function l1Kernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  n: number,
): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(a[ao + i] - b[bo + i]);
  return s / n;
}

/** mean (a - b)² */
export function l2Kernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  n: number,
): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = a[ao + i] - b[bo + i];
    s += e * e;
  }
  return s / n;
}

/** 1 - (2 Σ ab + ε) / (Σ a + Σ b + ε) */
export function diceKernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  n: number,
): number {
  let inter = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[ao + i];
    const y = b[bo + i];
    inter += x * y;
    sa += x;
    sb += y;
  }
  return 1 - (2 * inter + DICE_EPS) / (sa + sb + DICE_EPS);
}

export const PHI_KERNELS: Readonly<Record<PhiName, PhiKernel>> = {
  l1: l1Kernel,
  l2: l2Kernel,
  dice: diceKernel,
};

/** Checks a (B, C, H, W) pair like Python `_check_pair` and applies `kernel` per sample. */
function perSample(kernel: PhiKernel, a: Tensor, b: Tensor): Tensor {
  checkTensor("a", a, { ndim: 4, layout: "(B, C, H, W)" });
  checkTensor("b", b, { ndim: 4, layout: "(B, C, H, W)" });
  checkSameShape(["a", "b"], [a, b]);
  const batch = a.shape[0];
  const n = a.data.length / batch;
  const out = new Float64Array(batch);
  for (let s = 0; s < batch; s++) out[s] = kernel(a.data, s * n, b.data, s * n, n);
  return tensor(out, [batch]);
}

/** φ_l1(A, B) = mean_{c,h,w} |A − B|. (B, C, H, W) ×2 → (B,). Mirrors Python `phi_l1`. */
export function phiL1(a: Tensor, b: Tensor): Tensor {
  return perSample(l1Kernel, a, b);
}

/** φ_l2(A, B) = mean_{c,h,w} (A − B)². (B, C, H, W) ×2 → (B,). Mirrors Python `phi_l2`. */
export function phiL2(a: Tensor, b: Tensor): Tensor {
  return perSample(l2Kernel, a, b);
}

/**
 * φ_dice(A, B) = 1 − (2 Σ A·B + ε) / (Σ A + Σ B + ε), sums over c,h,w, ε = DICE_EPS = 1e-6.
 * Two empty masks give exactly 0. (B, C, H, W) ×2 → (B,). Mirrors Python `phi_dice`.
 */
export function phiDice(a: Tensor, b: Tensor): Tensor {
  return perSample(diceKernel, a, b);
}

export const PHI_FUNCTIONS: Readonly<Record<PhiName, (a: Tensor, b: Tensor) => Tensor>> = {
  l1: phiL1,
  l2: phiL2,
  dice: phiDice,
};

/** φ by name; an unknown name throws LossInputError listing the allowed ones. Mirrors Python `phi`. */
export function phi(name: PhiName, a: Tensor, b: Tensor): Tensor {
  return PHI_FUNCTIONS[checkChoice("phi", name, PHI_NAMES)](a, b);
}
