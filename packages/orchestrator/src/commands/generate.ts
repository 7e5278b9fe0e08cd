/** `stillmotion generate`: stills -> short videos with a mask on every frame (Fig. 5). */
import { resolve } from "node:path";
import { SCENE_MOTIONS, type SceneMotion } from "@stillmotion/inference";
import type { Command } from "commander";
import { Code, StillMotionError } from "../errors.js";
import { generateVideos } from "../pipelines/generate-videos.js";
import { listStills } from "../pipelines/inputs.js";
import { interruptible } from "../pipelines/interrupt.js";
import { stepBar } from "../runs/step-bar.js";
import { integerOption } from "./integer-option.js";

/** Largest --size: 2048 px keeps a 16-step clip under ~1 GB of float frames. */
export const MAX_SIZE = 2048;

/** A commander parser for a number in [min, max]; one line naming the flag otherwise. */
function numberOption(flag: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max)) {
      throw new StillMotionError(
        Code.INVALID_ARGUMENT,
        `${flag}: expected a number in [${min}, ${max}], got ${JSON.stringify(value)}`,
      );
    }
    return n;
  };
}

export interface GenerateCommandOptions {
  model: string;
  out: string;
  steps?: number;
  size?: number;
  square?: boolean;
  stride?: number;
  strength?: number;
  compose?: boolean;
  residual?: number;
  camera?: string;
  cameraStrength?: number;
  border?: number;
  detail?: number;
  motionDownsample?: number;
  sceneMotion?: SceneMotion;
  overwrite?: boolean;
}

export async function generate(input: string, options: GenerateCommandOptions) {
  if (options.sceneMotion !== undefined && !SCENE_MOTIONS.includes(options.sceneMotion)) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `--scene-motion: expected one of ${SCENE_MOTIONS.join(", ")}, got ${JSON.stringify(options.sceneMotion)}`,
    );
  }
  const stills = await listStills(resolve(input));
  const outDir = resolve(options.out);
  return interruptible(`generate into ${outDir}`, async () => {
    const bar = stepBar("generate");
    try {
      return await generateVideos({
        model: resolve(options.model),
        stills,
        outDir,
        overwrite: options.overwrite,
        steps: options.steps,
        stride: options.stride,
        strength: options.strength,
        // commander's --no-compose makes compose true by default: only false is a choice here
        compose: options.compose === false ? false : undefined,
        residualScale: options.residual,
        camera: options.camera ? resolve(options.camera) : undefined,
        cameraStrength: options.cameraStrength,
        borderThreshold: options.border,
        detail: options.detail,
        motionDownsample: options.motionDownsample,
        sceneMotion: options.sceneMotion,
        // --size is the longer side, the still's aspect kept; --square forces size x size
        ...(options.square ? { width: options.size, height: options.size } : { size: options.size }),
        onProgress: (done, total, id) => bar.update(done, total, id),
      });
    } finally {
      bar.stop();
    }
  });
}

export function register(program: Command): void {
  program
    .command("generate <input>")
    .description("turn stills (a dataset, or a folder of images/ + masks/) into videos with masks")
    .requiredOption("-m, --model <file>", "exported generator (.onnx)")
    .requiredOption("-o, --out <dir>", "output folder: clips/<id>/ PNGs + preview.webp, dataset/")
    .option("--steps <n>", "frames generated after each still", integerOption("--steps", 1, 1000), 16)
    .option(
      "--size <px>",
      "resize stills so that the longer side is <px>, keeping their aspect (the model's training size)",
      integerOption("--size", 8, MAX_SIZE, " (pixels per side)"),
    )
    .option("--square", "with --size: resize to size x size instead (the old behaviour)")
    .option(
      "--stride <n>",
      "motion strength: model steps per output frame (each kept frame moves n steps further)",
      integerOption("--stride", 1, 16),
      1,
    )
    .option(
      "--strength <k>",
      "motion strength of a warp-image-head model: each predicted step's field times k (default 1)",
      numberOption("--strength", 0.01, 16),
    )
    .option(
      "--no-compose",
      "warp-image-head model: resample the previous frame at each step instead of the still once per frame",
    )
    .option(
      "--residual <k>",
      "warp-image-head model: each predicted step's residual (occlusions, lighting) times k; 0 moves the still only (default 1)",
      numberOption("--residual", 0, 4),
    )
    .option(
      "--camera <profile>",
      "composed roll-outs: see every frame through a camera moving like real clips (a camera profile JSON, e.g. models/camera-laryngoscopy.json)",
    )
    .option(
      "--camera-strength <k>",
      "with --camera: the camera's per-frame motion times k (default 1)",
      numberOption("--camera-strength", 0, 4),
    )
    .option(
      "--border <t>",
      "with --camera: a still's surround darker than t in every channel and touching the frame's edge (a scope's black border, its overlays) stays fixed while the view behind it moves (default 0.05; 0 = none)",
      numberOption("--border", 0, 0.99),
    )
    .option(
      "--detail <sigma>",
      "composed roll-outs: the still's detail finer than a Gaussian of sigma pixels moves by whole pixels, so resampling keeps speckle and texture sharp (default 1; 0 = plain bicubic)",
      numberOption("--detail", 0, 8),
    )
    .option(
      "--motion-downsample <f>",
      "composed roll-outs: the model's image branch sees each frame f times smaller per side, its step brought back up (default: the scale the model was trained at, max(1, floor(longer side / its training size)); 1 = the frame's own size)",
      integerOption("--motion-downsample", 1, 16),
    )
    .option(
      "--scene-motion <kind>",
      `with --camera, what the scene keeps of each step, one of ${SCENE_MOTIONS.join(", ")}: whole as predicted; nonrigid less the model's global shift, rotation and zoom; incompressible (default) less its divergence too, so lesions keep their size unless the camera zooms`,
    )
    .option("--overwrite", "replace a non-empty output folder (default: refuse it)")
    .addHelpText(
      "after",
      "\nWrites clips/<id>/ (PNG frames and masks, preview.webp, contact-sheet.png, metrics.json), metrics.json\nfor all clips (colour drift, sharpness, consecutive SSIM, mask area ratio; docs/generation.md) and dataset/.\n\nExamples:\n  $ stillmotion generate stills/ -m runs/a/export/generator.onnx -o out/gen --steps 16 --size 128\n  $ stillmotion generate stills/ -m models/real-still-to-video.onnx -o out/gen --size 128 --stride 2\n  $ stillmotion generate stills/ -m models/real-still-to-video.onnx -o out/gen --size 128 --residual 0 --camera models/camera-laryngoscopy.json --camera-strength 0.5\n  $ stillmotion generate data/kvasir -m model.onnx -o out/kvasir-videos",
    )
    .action(async (input: string, opts: GenerateCommandOptions) => {
      const result = await generate(input, opts);
      console.log(
        `${result.clips.length} clips in ${resolve(opts.out, "clips")}; metrics: ${result.metrics}; dataset: ${result.dataset}`,
      );
    });
}
