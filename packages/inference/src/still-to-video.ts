/**
 * Fig. 5 of the method, still image -> video: t = 0 takes the still and a mask, every later step
 * feeds back the model's own predicted image and mask, for `steps` steps (METHOD.md, Inference).
 */
import { Code, InferenceError, invalidArgument } from "./errors.js";
import type { Generator, StepResult } from "./generator.js";
import { checkImage, checkMask, type FloatImage, type Mask } from "./image-types.js";
import { randomMask } from "./random-mask.js";

export interface GenerateOptions {
  /** Number of predicted frames after the still (n of Fig. 5); default 16. */
  steps?: number;
  /**
   * Mask for t = 0 when none is given: "random" (the method's choice: random blobs drawn like
   * the trainer's random initial masks, see random-mask.ts) or "zeros" (no lesion).
   * Default "random".
   */
  initialMask?: "random" | "zeros";
  /** Seed of the random initial mask; default 0 (so a run is reproducible). */
  seed?: number;
  /** Called after every step with (done, total). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Frames and masks of a generated video; index 0 is the still and its (initial) mask. */
export interface GeneratedVideo {
  frames: FloatImage[];
  masks: Mask[];
}

/** Roll the generator out from a still image (and its lesion mask, when known). */
export async function generateFromStill(
  generator: Generator,
  image: FloatImage,
  mask?: Mask,
  options: GenerateOptions = {},
): Promise<GeneratedVideo> {
  const steps = options.steps ?? 16;
  if (!Number.isInteger(steps) || steps < 1) throw invalidArgument("steps", steps, "an integer >= 1");
  const init = options.initialMask ?? "random";
  if (init !== "random" && init !== "zeros") {
    throw invalidArgument("initialMask", init, 'one of: "random", "zeros"');
  }
  checkImage("image", image, generator.channels);
  const { height: h, width: w } = image;
  let m: Mask;
  if (mask) {
    checkMask("mask", mask, h, w);
    m = mask;
  } else {
    m =
      init === "random"
        ? randomMask(h, w, options.seed ?? 0)
        : { data: new Float32Array(h * w), height: h, width: w };
  }
  const frames: FloatImage[] = [image];
  const masks: Mask[] = [m];
  for (let t = 0; t < steps; t++) {
    if (options.signal?.aborted) {
      throw new InferenceError(Code.ABORTED, `generateFromStill aborted after ${t} of ${steps} steps`, {
        cause: options.signal.reason,
      });
    }
    // (I^_{t+1}, M^_{t+1}) = G(I^_t, M^_t): both outputs fed back (Fig. 5)
    const next = await generationStep(generator, frames[t], masks[t]);
    frames.push(next.image);
    masks.push(next.mask);
    options.onProgress?.(t + 1, steps);
  }
  return { frames, masks };
}

/**
 * One Fig. 5 step for either kind of generator. A next-frame generator G(I_t, M^_t, I_{t+1})
 * has no real next frame here, so its own prediction stands in: one run gives I^_{t+1} (the
 * image branch never reads `next_frame`; the current frame is passed), a second gives
 * M^_{t+1} = the motion mask of G(I^_t, M^_t, I^_{t+1}): the mask follows the generated motion,
 * without a `mask_refine` model's correction (made for real frames; on generated ones it grows
 * the mask). A model with the warp image head (`image_head: "warp"`) moves I^_t by a predicted
 * field plus a small residual, and its `next_mask_motion` is M^_t carried by that same field, so
 * the clip keeps the still's identity and the mask moves with the image (docs/generation.md).
 * Mirrors Python models/next_frame.generation_step.
 */
export async function generationStep(
  generator: Generator,
  image: FloatImage,
  mask: Mask,
): Promise<StepResult> {
  if (!generator.takesNextFrame) return generator.step(image, mask);
  const { image: nextImage } = await generator.step(image, mask, image);
  return { image: nextImage, mask: await generator.stepMotionMask(image, mask, nextImage) };
}
