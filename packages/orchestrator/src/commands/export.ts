/** `stillmotion export <runDir>`: a run's best (else latest) checkpoint to an ONNX generator. */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { Code, StillMotionError } from "../errors.js";
import { interruptible } from "../pipelines/interrupt.js";
import { runTrainerCommand } from "../trainer/python-command.js";

/** best.pt when there is one, else the step checkpoint with the highest step. */
export function pickCheckpoint(runDir: string): string {
  const dir = join(runDir, "checkpoints");
  if (!existsSync(dir)) throw new StillMotionError(Code.NOT_FOUND, `${dir}: no checkpoints folder`);
  const files = readdirSync(dir).filter((f) => f.endsWith(".pt"));
  if (files.includes("best.pt")) return join(dir, "best.pt");
  const steps = files
    .map((f) => ({ f, step: Number(/(\d+)/.exec(f)?.[1] ?? Number.NaN) }))
    .filter((x) => Number.isFinite(x.step))
    .sort((a, b) => b.step - a.step);
  if (!steps.length) throw new StillMotionError(Code.NOT_FOUND, `${dir}: no checkpoint files`);
  return join(dir, steps[0].f);
}

export interface ExportOptions {
  checkpoint?: string;
  out?: string;
  /** Leave next_image and the image branch out: faster propagation, no still -> video. */
  maskOnly?: boolean;
  /** Mask-only as a features graph and a step graph in one file: the fastest propagation of a
   * warp-head generator (docs/inference.md, "Layouts"). */
  split?: boolean;
}

function defaultName(options: ExportOptions): string {
  if (options.split) return "generator.split.onnx";
  return options.maskOnly ? "generator.masks.onnx" : "generator.onnx";
}

/** Export a run's checkpoint; `runDir` may be left out when both checkpoint and out are given. */
export async function exportRun(runDir: string | undefined, options: ExportOptions = {}) {
  const inRun = (what: string): string => {
    if (runDir === undefined)
      throw new StillMotionError(Code.INVALID_ARGUMENT, `export: no run directory to take the ${what} from`);
    return runDir;
  };
  const checkpoint = resolve(options.checkpoint ?? pickCheckpoint(inRun("checkpoint")));
  const out = resolve(options.out ?? join(inRun("output folder"), "export", defaultName(options)));
  const existed = existsSync(out);
  const args = [
    "export",
    "--checkpoint",
    checkpoint,
    "--out",
    out,
    ...(options.maskOnly ? ["--mask-only"] : []),
    ...(options.split ? ["--split"] : []),
  ];
  const report = await interruptible(`export to ${out}`, (scope) =>
    runTrainerCommand(args, {
      // The exporter dies with us (PR_SET_PDEATHSIG + a watchdog on this pid), even on SIGKILL.
      env: { STILLMOTION_PARENT_PID: String(process.pid) },
      onSpawn: (child) => {
        scope.track(child);
        // Interrupted just as the exporter renamed its file into place: the user asked for
        // nothing, so nothing stays (an older file at --out was replaced and cannot come back).
        child.once("exit", () => {
          if (!existed && scope.interrupted()) rmSync(out, { force: true });
        });
      },
    }),
  );
  return { checkpoint, out, report };
}

export function register(program: Command): void {
  program
    .command("export <runDir>")
    .description("export a run's generator to ONNX (inputs image, mask; outputs next_image, next_mask)")
    .option("--checkpoint <file>", "checkpoint to export (default: best, else latest)")
    .option(
      "--out <file>",
      "ONNX file (default: <runDir>/export/generator.onnx, generator.masks.onnx or generator.split.onnx)",
    )
    .option(
      "--mask-only",
      "outputs next_mask (and next_mask_motion) only: propagation without the image branch, faster",
    )
    .option(
      "--split",
      "mask-only as a features graph (once per frame) and a step graph, in one file: the fastest " +
        "propagation of a warp-head generator (model.mask_head: warp)",
    )
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ stillmotion export runs/quickstart --out model.onnx",
        "  $ stillmotion export runs/quickstart --mask-only",
        "  $ stillmotion export runs/real --split --out propagation.onnx",
      ].join("\n"),
    )
    .action(async (runDir: string, opts: ExportOptions) => {
      const { out, checkpoint } = await exportRun(runDir, opts);
      console.log(`exported ${checkpoint} -> ${out}`);
    });
}
