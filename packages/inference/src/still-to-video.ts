/**
 * Fig. 5 of the method, still image -> video: t = 0 takes the still and a mask, every later step
 * feeds back the model's own predicted image and mask, for `steps` steps (METHOD.md, Inference).
 */

import {
  autoExposure,
  type CameraProfile,
  CameraWalk,
  cameraField,
  keepLesionInView,
  type Pose,
} from "./camera-motion.js";
import { DEFAULT_DETAIL } from "./detail-sampling.js";
import { Code, InferenceError, invalidArgument } from "./errors.js";
import { DEFAULT_BORDER_THRESHOLD, fillBorder, findBorder, throughBorder } from "./fixed-border.js";
import type { Generator, StepResult } from "./generator.js";
import { checkImage, checkMask, type FloatImage, type Mask } from "./image-types.js";
import { checkMotionDownsample, motionAtScale, motionDownsample, trainingSize } from "./motion-scale.js";
import { randomMask } from "./random-mask.js";
import { divergenceFree } from "./scene-incompressible.js";
import { withoutSimilarity } from "./scene-nonrigid.js";
import {
  type ComposedState,
  compose,
  type Field,
  scaleField,
  startComposed,
} from "./still-to-video-compose.js";

/**
 * What the scene keeps of each step of the image branch under a camera that owns the rest
 * (Python models/still_to_video.SCENE_MOTIONS): "whole" the step as predicted (the only choice
 * without a camera), "nonrigid" less its global similarity (scene-nonrigid.ts),
 * "incompressible" then less its divergence too, so it moves and shears the still's structures
 * without swelling or shrinking them (scene-incompressible.ts; the default with a camera).
 */
export const SCENE_MOTIONS = ["whole", "nonrigid", "incompressible"] as const;
export type SceneMotion = (typeof SCENE_MOTIONS)[number];

/** What the scene keeps of the step u: `SCENE_MOTIONS` (Python still_to_video.scene_step). */
export function sceneStep(u: Field, scene: SceneMotion): Field {
  if (scene === "whole") return u;
  const rest = withoutSimilarity(u);
  return scene === "nonrigid" ? rest : divergenceFree(rest);
}

export interface GenerateOptions {
  /** Number of predicted frames after the still (n of Fig. 5); default 16. */
  steps?: number;
  /**
   * Mask for t = 0 when none is given: "random" (the method's choice: random blobs drawn like
   * the trainer's random initial masks, see random-mask.ts) or "zeros" (no lesion).
   * Default "random".
   */
  initialMask?: "random" | "zeros";
  /** Seed of the random initial mask and of the camera's poses; default 0 (reproducible). */
  seed?: number;
  /**
   * For a model with the warp image head (`generator.hasImageField`): compose its fields and
   * sample the still once per frame (still-to-video-compose.ts) instead of resampling the
   * previous frame at every step. Default true for such a model; refused for others.
   */
  compose?: boolean;
  /**
   * Motion strength k, composed roll-outs only: each predicted step's field times k (sources
   * kept in the frame). Default 1, the model's own motion.
   */
  strength?: number;
  /**
   * Residual scale rho, composed roll-outs only: each predicted step's residual (occlusions,
   * lighting) times rho (default 1; 0 moves the still only). Summed over a clip the shipped
   * model's residual is what shifts a real still's colours (docs/generation.md).
   */
  residualScale?: number;
  /**
   * Composed roll-outs only: every frame seen through a camera that moves like the real clips
   * the profile was measured on (camera-motion.ts; poses drawn from `seed`). Frame 0 is the
   * still; the model's next step is predicted from the unviewed scene. A profile with
   * `auto_exposure` holds the view's mean brightness at the still's.
   */
  camera?: CameraProfile;
  /** With `camera`: its per-frame motion times this (default 1). */
  cameraStrength?: number;
  /**
   * What the scene keeps of each step (`SCENE_MOTIONS`). Default with `camera`
   * "incompressible": the camera owns the similarity and the divergence, so lesions keep their
   * size unless the camera zooms; without a camera only "whole".
   */
  sceneMotion?: SceneMotion;
  /**
   * With `camera`: a still's surround darker than this in every channel and connected to the
   * frame's edge (a scope's black border and its overlays) stays fixed while the view behind it
   * moves (fixed-border.ts). Default 0.05; 0 turns it off.
   */
  borderThreshold?: number;
  /**
   * Composed roll-outs only: the still's detail finer than a Gaussian of this sigma (pixels)
   * moves by whole pixels, its smooth base is interpolated, so resampling keeps speckle and
   * texture as sharp as in the still (detail-sampling.ts). Default 1; 0 samples plain bicubic.
   */
  detail?: number;
  /**
   * Composed roll-outs only: the image branch's network sees each frame this many times smaller
   * per side, its step brought back up (motion-scale.ts), an integer >= 1. Default: the model's
   * training scale, max(1, floor(max(H, W) / its run config's data.size)), 1 where the export
   * does not say; 1 = the frame's own size.
   */
  motionDownsample?: number;
  /** Called after every step with (done, total). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Frames and masks of a generated video; index 0 is the still and its (initial) mask. */
export interface GeneratedVideo {
  frames: FloatImage[];
  masks: Mask[];
  /** Composed roll-outs: the factor the image branch's network saw the frames smaller by. */
  motionDownsample?: number;
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
  const composed = options.compose ?? generator.hasImageField;
  if (composed && !generator.hasImageField) {
    throw invalidArgument(
      "compose",
      true,
      `false for this model: it has no next_field output (image_head=${generator.metadata.generatorConfig.image_head})`,
    );
  }
  const strength = options.strength ?? 1;
  if (!(Number.isFinite(strength) && strength > 0) || (strength !== 1 && !composed)) {
    throw invalidArgument(
      "strength",
      strength,
      composed
        ? "a number > 0"
        : `1: the strength scales composed fields (${generator.hasImageField ? "compose is off" : "this model has no warp image head"})`,
    );
  }
  // residual scale and camera act on the composed fields: refused for other roll-outs
  const whyNot = generator.hasImageField ? "compose is off" : "this model has no warp image head";
  const residualScale = options.residualScale ?? 1;
  if (!(Number.isFinite(residualScale) && residualScale >= 0) || (residualScale !== 1 && !composed)) {
    throw invalidArgument("residualScale", residualScale, composed ? "a number >= 0" : `1 (${whyNot})`);
  }
  if (options.camera && !composed) {
    throw invalidArgument(
      "camera",
      "a camera profile",
      `none: the camera views composed roll-outs (${whyNot})`,
    );
  }
  const borderThreshold = options.borderThreshold ?? DEFAULT_BORDER_THRESHOLD;
  if (
    !(Number.isFinite(borderThreshold) && borderThreshold >= 0 && borderThreshold < 1) ||
    (options.borderThreshold !== undefined && !options.camera)
  ) {
    throw invalidArgument(
      "borderThreshold",
      borderThreshold,
      options.camera ? "a number in [0, 1)" : "unset: the fixed border acts with a camera only",
    );
  }
  const scene = options.sceneMotion ?? (options.camera ? "incompressible" : "whole");
  if (!SCENE_MOTIONS.includes(scene) || (scene !== "whole" && !options.camera)) {
    throw invalidArgument(
      "sceneMotion",
      scene,
      options.camera
        ? `one of ${SCENE_MOTIONS.join(", ")}`
        : '"whole" or unset: the camera owns the motion the scene gives up only when there is a camera',
    );
  }
  const detail = options.detail ?? DEFAULT_DETAIL;
  if (!(Number.isFinite(detail) && detail >= 0) || (options.detail !== undefined && !composed)) {
    throw invalidArgument("detail", detail, composed ? "a number >= 0" : `unset (${whyNot})`);
  }
  checkImage("image", image, generator.channels);
  const { height: h, width: w } = image;
  if (options.motionDownsample !== undefined) {
    if (!composed) throw invalidArgument("motionDownsample", options.motionDownsample, `unset (${whyNot})`);
    checkMotionDownsample(options.motionDownsample);
  }
  const factor =
    options.motionDownsample ?? motionDownsample(trainingSize(generator.metadata.extra.run_config), h, w);
  const camera = options.camera;
  const walk = camera
    ? new CameraWalk(camera, Math.min(h, w), options.seed ?? 0, options.cameraStrength ?? 1)
    : undefined;
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
  // with a camera the view moves behind the still's fixed border: the scene is the still with
  // the view reflected into its border (fixed-border.ts), the frames show the still there
  const border = options.camera ? findBorder(image, borderThreshold) : undefined;
  const fixed = border?.includes(1) ? border : undefined;
  let state: ComposedState | undefined;
  if (composed) {
    state = fixed
      ? startComposed(
          fillBorder(image, fixed),
          { ...m, data: m.data.map((v, i) => (fixed[i] ? 0 : v)) },
          detail,
        )
      : startComposed(image, m, detail);
  }
  for (let t = 0; t < steps; t++) {
    if (options.signal?.aborted) {
      throw new InferenceError(Code.ABORTED, `generateFromStill aborted after ${t} of ${steps} steps`, {
        cause: options.signal.reason,
      });
    }
    // (I^_{t+1}, M^_{t+1}) = G(I^_t, M^_t): both outputs fed back (Fig. 5); composed: the
    // branch's step at the current frame moves the still once more (still-to-video-compose.ts)
    let next: StepResult;
    if (state !== undefined) {
      const step = await motionAtScale(generator, state.image, state.mask, factor);
      // seen through a camera, the scene's step loses what the camera owns
      const field = sceneStep(step.field, scene);
      const residual = step.residual;
      if (residualScale !== 1) for (let i = 0; i < residual.length; i++) residual[i] *= residualScale;
      state = compose(state, scaleField(field, strength), residual);
      // the camera's view of the scene: the still sampled once more, at camera + scene map;
      // with keep_lesion the pose is pulled back to rest while it hides or magnifies the lesion
      let viewed = state;
      if (walk) {
        const scene = state;
        // the last pose's view is kept: keepLesionInView returns the pose it measured last, so
        // the frame reuses that view instead of sampling the still once more
        let last: { pose: Pose; view: ComposedState } | undefined;
        const through = (pose: Pose) => {
          if (last?.pose !== pose) {
            last = { pose, view: compose(scene, cameraField(pose, h, w), new Float32Array(residual.length)) };
          }
          return last.view;
        };
        const proposed = walk.propose();
        const pose =
          camera?.keep_lesion != null
            ? keepLesionInView(
                proposed,
                walk.rest,
                (p) => lesionArea(through(p).mask, fixed),
                camera.keep_lesion,
              )
            : proposed;
        viewed = through(walk.accept(pose));
      }
      // a scope's automatic light control: the view's mean brightness held at the still's
      const seen = camera?.auto_exposure
        ? { ...viewed, image: autoExposure(viewed.image, image, fixed) }
        : viewed;
      next = fixed
        ? throughBorder(seen.image, seen.mask, image, fixed)
        : { image: seen.image, mask: seen.mask };
    } else {
      next = await generationStep(generator, frames[t], masks[t]);
    }
    frames.push(next.image);
    masks.push(next.mask);
    options.onProgress?.(t + 1, steps);
  }
  return composed ? { frames, masks, motionDownsample: factor } : { frames, masks };
}

/** A(pose) of camera-motion.ts: the view's pixels (outside `border`) where the mask is >= 0.5. */
function lesionArea(mask: Mask, border?: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i] >= 0.5 && !border?.[i]) n++;
  return n;
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
