/**
 * `stillmotion adapt --checkpoint F --dataset DS --out adapted.pt [--onnx adapted.onnx]`: the
 * checkpoint with its learned mask correction fitted to the dataset's key frames (key-frame
 * adaptation, docs/evaluation.md), optionally exported for `stillmotion propagate`.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { interruptible } from "../pipelines/interrupt.js";
import { runTrainerCommand } from "../trainer/python-command.js";
import { collect, parseInteger } from "./dataset/group.js";
import { exportRun } from "./export.js";

export interface AdaptOptions {
  checkpoint: string;
  dataset: string;
  out: string;
  video?: string[];
  steps?: number;
  seed?: number;
  size?: string;
  /** Also export the adapted generator to this ONNX file. */
  onnx?: string;
}

export interface AdaptReport {
  out: string;
  videos: string[];
  key_frames: number;
  steps: number;
  seconds: number;
}

/** The trainer arguments for `options` (exported for tests). */
export function adaptArgs(options: AdaptOptions): string[] {
  const args = ["adapt", "--checkpoint", resolve(options.checkpoint), "--dataset", resolve(options.dataset)];
  for (const video of options.video ?? []) args.push("--video", video);
  if (options.steps !== undefined) args.push("--steps", String(options.steps));
  if (options.seed !== undefined) args.push("--seed", String(options.seed));
  if (options.size) args.push("--size", options.size);
  args.push("--out", resolve(options.out));
  return args;
}

export async function adaptCheckpoint(
  options: AdaptOptions,
): Promise<{ report: AdaptReport; onnx?: string }> {
  const report = await interruptible(`adapt to ${options.out}`, (scope) =>
    runTrainerCommand<AdaptReport>(adaptArgs(options), { onSpawn: (child) => scope.track(child) }),
  );
  if (!options.onnx) return { report };
  // adaptation needs a warp head with a correction, so the split layout always applies: the
  // fastest propagation, and what `stillmotion propagate` is for
  const exported = await exportRun(undefined, { checkpoint: report.out, out: options.onnx, split: true });
  return { report, onnx: exported.out };
}

export function register(program: Command): void {
  program
    .command("adapt")
    .description(
      "fit a checkpoint's learned mask correction to a dataset's key frames (about a minute per video " +
        "at 128 px on CPU); writes a weights-only checkpoint and, with --onnx, the model for `stillmotion propagate`",
    )
    .requiredOption(
      "--checkpoint <file>",
      "checkpoint with a learned correction (e.g. models/real-propagation.pt)",
    )
    .requiredOption("--dataset <dir>", "dataset whose key frames carry keyMask")
    .requiredOption("--out <file>", "adapted checkpoint to write")
    .option("--video <id>", "adapt to this video's key frames (repeatable; default every video)", collect)
    .option("--steps <n>", "adaptation steps (default 300)", parseInteger("steps", 0))
    .option("--seed <n>", "augmentation seed (default 0)", parseInteger("seed", 0))
    .option("--size <size>", "N or HxW (default: the size the checkpoint was trained at)")
    .option(
      "--onnx <file>",
      "also export the adapted generator to this ONNX file (split layout: mask-only, the fastest to propagate)",
    )
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ stillmotion adapt --checkpoint models/real-propagation.pt --dataset data/my-clips --video clip-07 \\",
        "      --out runs/clip-07.pt --onnx runs/clip-07.onnx",
        "  $ stillmotion propagate data/my-clips -m runs/clip-07.onnx --reference key -o out/masks",
        "",
        "Why and what it buys on real video: docs/evaluation.md (Key-frame adaptation).",
      ].join("\n"),
    )
    .action(async (opts: AdaptOptions) => {
      const { report, onnx } = await adaptCheckpoint(opts);
      console.log(
        `adapted to ${report.key_frames} key frame(s) of ${report.videos.join(", ")} in ${report.steps} steps ` +
          `(${report.seconds.toFixed(1)} s) -> ${report.out}`,
      );
      if (onnx) console.log(`exported -> ${onnx}`);
    });
}
