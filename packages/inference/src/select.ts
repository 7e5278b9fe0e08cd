/**
 * Output selection (METHOD.md, "Using the output", paragraph 0072): which generated or
 * propagated frames to keep, at a fixed step size or by inter-frame similarity.
 *
 * The selection rules and the similarities d live in @stillmotion/losses (one home per formula,
 * mirrored from Python `stillmotion_trainer.metrics.selection`); this module adapts them to
 * FloatImage frames and to this package's error type.
 */
import {
  LossInputError,
  SELECTION_MODES,
  type SelectionMode,
  SIMILARITY_NAMES,
  type SimilarityName,
  selectFixedStep,
  selectBySimilarity as selectTensorBySimilarity,
} from "@stillmotion/losses";

import { Code, InferenceError, invalidArgument } from "./errors.js";
import { checkImage, type FloatImage } from "./image-types.js";

export { SELECTION_MODES, type SelectionMode, SIMILARITY_NAMES, type SimilarityName };

/** Indices 0, step, 2 step, ... below `count` (a fixed step size). */
export function selectEvery(count: number, step: number): number[] {
  return withInferenceErrors(() => selectFixedStep(count, step));
}

/**
 * Greedy selection by similarity d against the last kept frame (frame 0 always kept):
 * "keep-dissimilar" keeps frame i when d(last kept, i) < threshold (drops near-duplicates),
 * "keep-similar" keeps it when d(last kept, i) >= threshold (drops frames that jump away).
 * d is "ssim" (default), "1-l1" or "ncc" (docs/losses.md).
 */
export function selectBySimilarity(
  frames: readonly FloatImage[],
  mode: SelectionMode,
  threshold: number,
  d: SimilarityName = "ssim",
): number[] {
  if (frames.length === 0) return [];
  const { channels: c, height: h, width: w } = frames[0];
  frames.forEach((f, i) => {
    checkImage(`frames[${i}]`, f, c);
    if (f.height !== h || f.width !== w) {
      throw invalidArgument(`frames[${i}] size`, `${f.height}x${f.width}`, `${h}x${w} like frames[0]`);
    }
  });
  const size = c * h * w;
  const data = new Float32Array(frames.length * size); // (N, C, H, W)
  frames.forEach((f, i) => {
    data.set(f.data, i * size);
  });
  return withInferenceErrors(() =>
    selectTensorBySimilarity({ data, shape: [frames.length, c, h, w] }, mode, threshold, d),
  );
}

/** `items` at `indices` (frames, masks or sources alike). */
export function pick<T>(items: readonly T[], indices: readonly number[]): T[] {
  return indices.map((i) => {
    if (!Number.isInteger(i) || i < 0 || i >= items.length) {
      throw invalidArgument("index", i, `an integer in 0..${items.length - 1}`);
    }
    return items[i];
  });
}

function withInferenceErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof LossInputError) {
      throw new InferenceError(Code.INVALID_ARGUMENT, err.message, { cause: err });
    }
    throw err;
  }
}
