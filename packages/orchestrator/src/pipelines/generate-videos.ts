/**
 * Fig. 5 as a pipeline: stills -> short videos with a mask on every frame. Writes, per still,
 * PNG frames and masks, an animated preview, a contact sheet (contact-sheet.ts) and the clip's
 * quality numbers (generation-quality.ts) in metrics.json; all clips' numbers in one
 * metrics.json at the top; and all clips as one dataset in the project's format, so the
 * generated data trains downstream models. The output folder appears whole or not at all
 * (staged-output.ts).
 */
import { join } from "node:path";
import {
  DEFAULT_BORDER_THRESHOLD,
  DEFAULT_DETAIL,
  type FloatImage,
  type GeneratedVideo,
  type Generator,
  generateFromStill,
  loadGenerator,
  readCameraProfile,
  readImage,
  readMask,
  resizeImage,
  type SceneMotion,
  writeAnimatedPreview,
  writeFileAtomic,
  writePngSequence,
} from "@stillmotion/inference";
import sharp from "sharp";
import { DatasetWriter } from "../dataset/write.js";
import { Code, StillMotionError } from "../errors.js";
import { contactSheetPng } from "./contact-sheet.js";
import { type ClipQuality, clipQuality } from "./generation-quality.js";
import type { StillInput } from "./inputs.js";
import { StagedOutput } from "./staged-output.js";

export interface GenerateVideosOptions {
  model: string;
  stills: StillInput[];
  outDir: string;
  /** Replace a non-empty `outDir` (default: refuse it, so old and new clips never mix). */
  overwrite?: boolean;
  /** Frames generated after each still (n of Fig. 5). */
  steps?: number;
  /** Resize stills to the model's training size (both or neither; forces that shape). */
  width?: number;
  height?: number;
  /**
   * Resize each still so that its longer side is `size` pixels, keeping its aspect (the
   * shorter side rounded, at least 8). Not with width/height.
   */
  size?: number;
  /**
   * Motion strength: model steps per output frame (default 1). Each kept frame is `stride`
   * Fig. 5 steps after the previous one, so a clip moves `stride` times as far per frame
   * (METHOD.md, "Using the output": frames sampled at a fixed step size).
   */
  stride?: number;
  /**
   * Motion strength of a composed roll-out (a model with the warp image head): each predicted
   * step's field times this (default 1; generateFromStill `strength`).
   */
  strength?: number;
  /**
   * Compose the fields of a warp-image-head model and sample the still once per frame (default
   * true for such a model; false resamples the previous frame at every step).
   */
  compose?: boolean;
  /** Residual scale of a composed roll-out (default 1; generateFromStill `residualScale`). */
  residualScale?: number;
  /**
   * A camera profile (JSON of `camera-profile`): every frame is seen through a camera moving
   * like the real clips it was measured on (composed roll-outs only; clip i's poses drawn from
   * seed i; generateFromStill `camera`).
   */
  camera?: string;
  /** With `camera`: its per-frame motion times this (default 1). */
  cameraStrength?: number;
  /** What the scene keeps of each step (generateFromStill `sceneMotion`; not "whole" only with `camera`). */
  sceneMotion?: SceneMotion;
  /**
   * With `camera`: the darkness threshold of a still's fixed surround (generateFromStill
   * `borderThreshold`; default 0.05, 0 = none).
   */
  borderThreshold?: number;
  /**
   * Composed roll-outs: the sigma (pixels) of detail-preserving sampling (generateFromStill
   * `detail`; default 1, 0 = plain bicubic).
   */
  detail?: number;
  /**
   * Composed roll-outs: the factor by which the model's image branch sees the frames smaller
   * (generateFromStill `motionDownsample`; default the model's training scale).
   */
  motionDownsample?: number;
  fps?: number;
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface GeneratedClip {
  id: string;
  dir: string;
  preview: string;
  /** Fraction of pixels > 0.5 per frame: the lesion's area over the clip. */
  maskAreas: number[];
  /** Mean pixel value per frame (drift to grey or black shows here). */
  meanIntensity: number[];
  /** The clip's identity numbers (generation-quality.ts), also in its metrics.json. */
  quality: ClipQuality;
  /** Composed roll-outs: the factor the image branch saw the frames smaller by, else null. */
  motionDownsample: number | null;
  contactSheet: string;
  video: GeneratedVideo;
}

export interface GenerateVideosResult {
  clips: GeneratedClip[];
  dataset: string;
  /** metrics.json: every clip's quality numbers. */
  metrics: string;
}

/** (width, height) with the longer side `size` and the aspect of `width` x `height`. */
export function keepAspect(width: number, height: number, size: number): { width: number; height: number } {
  const scale = size / Math.max(width, height);
  return {
    width: Math.max(8, Math.round(width * scale)),
    height: Math.max(8, Math.round(height * scale)),
  };
}

async function readStill(path: string, channels: 1 | 3, options: GenerateVideosOptions): Promise<FloatImage> {
  if (options.width && options.height) {
    return readImage(path, { channels, width: options.width, height: options.height });
  }
  const image = await readImage(path, { channels });
  if (!options.size) return image;
  const { width, height } = keepAspect(image.width, image.height, options.size);
  return width === image.width && height === image.height ? image : resizeImage(image, width, height);
}

function area(mask: { data: Float32Array }): number {
  let n = 0;
  for (const v of mask.data) if (v > 0.5) n++;
  return n / mask.data.length;
}

function mean(data: Float32Array): number {
  let s = 0;
  for (const v of data) s += v;
  return s / data.length;
}

export async function generateVideos(options: GenerateVideosOptions): Promise<GenerateVideosResult> {
  const generator = await loadGenerator(options.model);
  try {
    return await StagedOutput.write(options.outDir, { overwrite: options.overwrite }, (staged) =>
      writeVideos(options, generator, staged),
    );
  } finally {
    await generator.dispose();
  }
}

/** Every clip and the dataset into the staging folder; paths in the result are the final ones. */
async function writeVideos(
  options: GenerateVideosOptions,
  generator: Generator,
  staged: StagedOutput,
): Promise<GenerateVideosResult> {
  const steps = options.steps ?? 16;
  const stride = options.stride ?? 1;
  if (!Number.isInteger(stride) || stride < 1) {
    throw new StillMotionError(Code.INVALID_ARGUMENT, `stride: expected an integer >= 1, got ${stride}`);
  }
  const composed = options.compose ?? generator.hasImageField;
  const strength = options.strength ?? 1;
  if (options.size && (options.width || options.height)) {
    throw new StillMotionError(Code.INVALID_ARGUMENT, "size: give either size or width and height, not both");
  }
  const camera = options.camera ? await readCameraProfile(options.camera) : undefined;
  if (options.borderThreshold !== undefined && !camera) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `border ${options.borderThreshold}: only with a camera (it keeps a still's surround fixed while the camera moves the view)`,
    );
  }
  const sceneMotion = options.sceneMotion ?? (camera ? "incompressible" : "whole");
  if (sceneMotion !== "whole" && !camera) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `scene motion ${sceneMotion}: only with a camera (it owns the motion the scene gives up; without one the scene's step is kept whole)`,
    );
  }
  const cameraStrength = options.cameraStrength ?? 1;
  // the threshold the clips were made with, for the records (null: no camera, no fixed border)
  const borderThreshold = camera ? (options.borderThreshold ?? DEFAULT_BORDER_THRESHOLD) : null;
  const residualScale = options.residualScale ?? 1;
  // the detail sigma the clips were made with, for the records (null: not a composed roll-out)
  const detail = composed ? (options.detail ?? DEFAULT_DETAIL) : null;
  const clips: GeneratedClip[] = [];
  const dataset = await DatasetWriter.open(join(staged.stage, "dataset"));
  for (const [i, still] of options.stills.entries()) {
    const image = await readStill(still.image, generator.channels, options);
    // a mask must have its still's own size: resized along with the still, one of another size
    // would silently misplace the lesion (and the error names which of the stills' files it is)
    const mask = still.mask ? await readMask(still.mask) : undefined;
    if (mask) {
      const own = await sharp(still.image).metadata();
      if (mask.width !== own.width || mask.height !== own.height) {
        throw new StillMotionError(
          Code.INVALID_ARGUMENT,
          `${still.mask}: mask is ${mask.width}x${mask.height}, its image ${still.image} is ${own.width}x${own.height}`,
        );
      }
    }
    const sized =
      mask && still.mask && (mask.width !== image.width || mask.height !== image.height)
        ? await readMask(still.mask, { width: image.width, height: image.height })
        : mask;
    const video = everyNth(
      await generateFromStill(generator, image, sized, {
        steps: steps * stride,
        strength: options.strength,
        compose: options.compose,
        residualScale: options.residualScale,
        camera,
        cameraStrength,
        ...(camera ? { sceneMotion } : {}),
        borderThreshold: options.borderThreshold,
        detail: options.detail,
        motionDownsample: options.motionDownsample,
        ...(camera ? { seed: i } : {}), // clip i's camera poses from seed i
      }),
      stride,
    );
    const clipDir = join("clips", still.id);
    await writePngSequence(join(staged.stage, clipDir), {
      frames: video.frames,
      masks: video.masks,
      maskThreshold: 0.5,
    });
    const preview = join(clipDir, "preview.webp");
    await writeAnimatedPreview(join(staged.stage, preview), video.frames, video.masks, {
      fps: options.fps ?? 8,
    });
    const sheet = join(clipDir, "contact-sheet.png");
    await writeFileAtomic(join(staged.stage, sheet), await contactSheetPng(video.frames, video.masks));
    const quality = clipQuality(video.frames, video.masks);
    // the factor the branch saw this still's frames smaller by (null: not a composed roll-out)
    const motionDownsample = video.motionDownsample ?? null;
    const record = {
      id: still.id,
      image: still.image,
      width: image.width,
      height: image.height,
      motionDownsample,
      ...quality,
    };
    await writeFileAtomic(
      join(staged.stage, clipDir, "metrics.json"),
      `${JSON.stringify(record, null, 1)}\n`,
    );
    clips.push({
      id: still.id,
      dir: join(staged.out, clipDir),
      preview: join(staged.out, preview),
      maskAreas: video.masks.map(area),
      meanIntensity: video.frames.map((f) => mean(f.data)),
      quality,
      motionDownsample,
      contactSheet: join(staged.out, sheet),
      video,
    });
    // Streamed into the dataset now, so no list of every video is kept for a final write.
    await dataset.addVideo({
      id: still.id,
      fps: options.fps ?? 30,
      frames: video.frames,
      masks: video.masks,
    });
    options.onProgress?.(i + 1, options.stills.length, still.id);
  }
  await dataset.commit({
    name: "generated-from-stills",
    description: `Generated by ${options.model} from ${options.stills.length} stills, ${steps} steps each (Fig. 5).`,
    // The generator's channels say what it was trained on: 1 = ultrasound, 3 = endoscopy.
    modality: generator.channels === 1 ? "ultrasound" : "endoscopy",
    source: {
      model: options.model,
      steps,
      stride,
      strength,
      composed,
      camera: options.camera ?? null,
      cameraStrength,
      borderThreshold,
      detail,
    },
  });
  const metrics = {
    model: options.model,
    steps,
    stride,
    strength,
    composed,
    residualScale,
    camera: options.camera ?? null,
    cameraStrength,
    // what the scene kept of each step, for the records (null: not a composed roll-out)
    sceneMotion: composed ? sceneMotion : null,
    borderThreshold,
    detail,
    targets: { colourDriftMax: 0.03, sharpnessRatioMin: 0.7, areaRatioRange: [0.7, 1.3] },
    clips: clips.map((c) => ({ id: c.id, motionDownsample: c.motionDownsample, ...c.quality })),
  };
  await writeFileAtomic(join(staged.stage, "metrics.json"), `${JSON.stringify(metrics, null, 1)}\n`);
  return { clips, dataset: join(staged.out, "dataset"), metrics: join(staged.out, "metrics.json") };
}

/** Frames and masks 0, n, 2n, ... of a video (the still stays frame 0). */
function everyNth(video: GeneratedVideo, n: number): GeneratedVideo {
  if (n === 1) return video;
  const keep = <T>(xs: T[]) => xs.filter((_, t) => t % n === 0);
  return { ...video, frames: keep(video.frames), masks: keep(video.masks) };
}
