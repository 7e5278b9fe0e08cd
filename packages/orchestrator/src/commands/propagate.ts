/** `stillmotion propagate`: a dataset whose videos carry key-frame masks -> masks on every frame (Fig. 6). */
import { resolve } from "node:path";
import { FUSIONS, type Fusion, REFERENCES, type Reference } from "@stillmotion/inference";
import type { Command } from "commander";
import { Code, StillMotionError } from "../errors.js";
import { interruptible } from "../pipelines/interrupt.js";
import { propagateVideos } from "../pipelines/propagate-videos.js";
import { stepBar } from "../runs/step-bar.js";
import { parseInteger } from "./dataset/group.js";

export interface PropagateCommandOptions {
  model: string;
  out: string;
  fusion?: Fusion;
  reference?: Reference;
  downsample?: number;
  video?: boolean;
  overwrite?: boolean;
}

export async function propagate(dataset: string, options: PropagateCommandOptions) {
  if (options.fusion !== undefined && !FUSIONS.includes(options.fusion)) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `--fusion: expected one of ${FUSIONS.join(", ")}, got ${JSON.stringify(options.fusion)}`,
    );
  }
  if (options.reference !== undefined && !REFERENCES.includes(options.reference)) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `--reference: expected one of ${REFERENCES.join(", ")}, got ${JSON.stringify(options.reference)}`,
    );
  }
  const outDir = resolve(options.out);
  return interruptible(`propagate into ${outDir}`, async () => {
    const bar = stepBar("propagate");
    try {
      return await propagateVideos({
        model: resolve(options.model),
        dataset: resolve(dataset),
        outDir,
        overwrite: options.overwrite,
        fusion: options.fusion,
        reference: options.reference,
        downsample: options.downsample,
        videos: options.video,
        onProgress: (done, total, id) => bar.update(done, total, id),
      });
    } finally {
      bar.stop();
    }
  });
}

export function register(program: Command): void {
  program
    .command("propagate <dataset>")
    .description("propagate key-frame masks through every video of a dataset")
    .requiredOption("-m, --model <file>", "exported generator (.onnx)")
    .requiredOption("-o, --out <dir>", "output folder: videos/<id>/mask_*.png, overlay.mp4, preview.webp")
    .option("--fusion <how>", "combining chains of several key frames: linear | nearest", "linear")
    .option(
      "--reference <from>",
      "what each step carries the mask from: previous (the mask inferred for the previous frame, Fig. 6) | " +
        "key (the key frame's own mask; real video, docs/real-data.md)",
      "previous",
    )
    .option(
      "--downsample <n>",
      "run the model on frames n times smaller per side, masks returned at the frames' size " +
        "(2 at 256 px: about 3x the frames/s, a Dice trade measured in docs/real-data.md)",
      parseInteger("downsample", 1),
    )
    .option("--no-video", "skip the overlay mp4 (no ffmpeg needed)")
    .option("--overwrite", "replace a non-empty output folder (default: refuse it)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ stillmotion propagate data/clips -m model.onnx -o out/masks\n  $ stillmotion propagate data/clips -m model.onnx -o out/masks --fusion nearest --no-video",
    )
    .action(async (dataset: string, opts: PropagateCommandOptions) => {
      const videos = await propagate(dataset, opts);
      const fps = videos.reduce((s, v) => s + v.framesPerSecond, 0) / Math.max(1, videos.length);
      console.log(`${videos.length} videos -> ${resolve(opts.out, "videos")} (${fps.toFixed(1)} frames/s)`);
    });
}
