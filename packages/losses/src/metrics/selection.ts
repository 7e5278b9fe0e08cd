/**
 * Choosing which generated frames to keep — METHOD.md "Using the output" (paragraph 0072).
 * Mirrors Python `stillmotion_trainer/metrics/selection.py`.
 */

import { LossInputError } from "../errors.js";
import { SIMILARITY_KERNELS, SIMILARITY_NAMES, type SimilarityName, SsimScratch } from "../similarity.js";
import type { Tensor } from "../tensor.js";
import { checkChoice, checkTensor, checkUnitScalar } from "../validate.js";

export const SELECTION_MODES = ["keep-dissimilar", "keep-similar"] as const;
export type SelectionMode = (typeof SELECTION_MODES)[number];

/** Indices 0, step, 2·step, … below n (sampling at a fixed step size). Mirrors Python `select_fixed_step`. */
export function selectFixedStep(n: number, step: number): number[] {
  if (!Number.isInteger(n) || n < 0)
    throw new LossInputError("n", `expected an integer >= 0, got ${String(n)}`);
  if (!Number.isInteger(step) || step < 1) {
    throw new LossInputError("step", `expected an integer >= 1, got ${String(step)}`);
  }
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

/**
 * Greedy selection by inter-frame similarity d. Frame 0 is always kept; each later frame i is
 * compared with the LAST KEPT frame r: "keep-dissimilar" keeps i when d(r, i) < threshold (drops
 * near-duplicates), "keep-similar" keeps i when d(r, i) ≥ threshold (drops frames that jump away).
 * frames: (N, H, W) or (N, C, H, W), values in [0, 1]. Returns kept indices, ascending.
 * Mirrors Python `select_by_similarity`.
 */
export function selectBySimilarity(
  frames: Tensor,
  mode: SelectionMode,
  threshold: number,
  dName: SimilarityName = "ssim",
): number[] {
  checkTensor("frames", frames, { ndim: [3, 4], layout: "(N, H, W) or (N, C, H, W)" });
  checkChoice("mode", mode, SELECTION_MODES);
  checkUnitScalar("threshold", threshold);
  const kernel = SIMILARITY_KERNELS[checkChoice("dName", dName, SIMILARITY_NAMES)];
  const [count, c, h, w] =
    frames.shape.length === 3 ? [frames.shape[0], 1, frames.shape[1], frames.shape[2]] : frames.shape;
  const size = c * h * w;
  const scratch = new SsimScratch(h, w);
  const kept = [0];
  for (let i = 1; i < count; i++) {
    const ref = kept[kept.length - 1];
    const d = kernel(frames.data, ref * size, frames.data, i * size, c, h, w, scratch);
    if (d < threshold === (mode === "keep-dissimilar")) kept.push(i);
  }
  return kept;
}
