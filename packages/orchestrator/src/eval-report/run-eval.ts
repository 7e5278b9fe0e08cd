/**
 * `stillmotion eval`: run the trainer's `evaluate` on a run's checkpoint and keep the result
 * with the run. The Python side computes everything (docs/evaluation.md); this side picks the
 * checkpoint, says where the report goes, and checks what comes back.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { pickCheckpoint } from "../commands/export.js";
import { saveReportSection, writeReport } from "../dashboard/report.js";
import { Code, StillMotionError } from "../errors.js";
import { runTrainerCommand } from "../trainer/python-command.js";
import { type EvalReport, parseEvalReport } from "./eval-report.js";
import { evalReportSection } from "./eval-section.js";

export const SPLITS = ["all", "val", "train"] as const;
export const FUSIONS = ["linear", "nearest"] as const;
/** What each propagation step carries the mask from (docs/evaluation.md, "Reference"). */
export const REFERENCES = ["previous", "key"] as const;
export const EVAL_FILE = "eval.json";

export interface EvalOptions {
  /** A run directory: its best (else latest) checkpoint is evaluated, eval.json lands in it. */
  runDir?: string;
  /** A checkpoint file; overrides the run's choice. */
  checkpoint?: string;
  dataset: string;
  split?: (typeof SPLITS)[number];
  /** Only these video ids (within the split); default every video. */
  video?: string[];
  valFraction?: number;
  seed?: number;
  /** "N", "HxW" or "native"; default: the size the run trained at. */
  size?: string;
  fusion?: (typeof FUSIONS)[number];
  reference?: (typeof REFERENCES)[number];
  /** Fit the model's learned correction to each video's key frames for N steps first (0: off). */
  adaptSteps?: number;
  /** Seed of the adaptation's random augmentations (default 0): another seed shows its spread. */
  adaptSeed?: number;
  /** Run the model on frames N times smaller per side, masks scored at the evaluation size. */
  downsample?: number;
  /** Where to write the report; default <runDir>/eval.json when there is a run directory. */
  out?: string;
  /** Add the evaluation to the run's HTML report (default true when there is a run directory). */
  report?: boolean;
  /** Receives the trainer's progress lines (one per video). */
  onProgress?: (line: string) => void;
}

export interface EvalResult {
  report: EvalReport;
  checkpoint: string;
  /** The run directory the checkpoint belongs to, when known. */
  runDir?: string;
  /** Where the report was written, if anywhere. */
  out?: string;
  /** The run's report section file and refreshed report.html, when they were written. */
  section?: string;
  html?: string;
}

/** The run directory holding `checkpoint` (<run>/checkpoints/x.pt with <run>/config.json), if any. */
export function runDirOfCheckpoint(checkpoint: string): string | undefined {
  const folder = dirname(resolve(checkpoint));
  if (basename(folder) !== "checkpoints") return undefined;
  const run = dirname(folder);
  return existsSync(join(run, "config.json")) ? run : undefined;
}

/** The trainer arguments for `options` (exported for tests and --help examples). */
export function evaluateArgs(checkpoint: string, options: EvalOptions, out?: string): string[] {
  const args = ["evaluate", "--checkpoint", checkpoint, "--dataset", resolve(options.dataset)];
  if (options.split) args.push("--split", options.split);
  for (const id of options.video ?? []) args.push("--video", id);
  if (options.valFraction !== undefined) args.push("--val-fraction", String(options.valFraction));
  if (options.seed !== undefined) args.push("--seed", String(options.seed));
  if (options.size) args.push("--size", options.size);
  if (options.fusion) args.push("--fusion", options.fusion);
  if (options.reference) args.push("--reference", options.reference);
  if (options.adaptSteps) args.push("--adapt-steps", String(options.adaptSteps));
  if (options.adaptSeed) args.push("--adapt-seed", String(options.adaptSeed));
  if (options.downsample !== undefined && options.downsample !== 1)
    args.push("--downsample", String(options.downsample));
  if (out) args.push("--out", out);
  return args;
}

/** Evaluate a run (or a checkpoint) on a dataset with ground-truth masks. */
export async function evaluateRun(options: EvalOptions): Promise<EvalResult> {
  if (!options.runDir && !options.checkpoint) {
    throw new StillMotionError(Code.INVALID_ARGUMENT, "eval: give a run directory or --checkpoint <file>");
  }
  if (options.runDir && !existsSync(options.runDir)) {
    throw new StillMotionError(Code.NOT_FOUND, `${options.runDir}: no such run directory`);
  }
  const checkpoint = resolve(options.checkpoint ?? pickCheckpoint(options.runDir as string));
  const runDir = options.runDir ? resolve(options.runDir) : runDirOfCheckpoint(checkpoint);
  const out = options.out ? resolve(options.out) : runDir ? join(runDir, EVAL_FILE) : undefined;
  // The trainer writes the file itself (atomically), so a report on disk is always complete.
  const raw = await runTrainerCommand(evaluateArgs(checkpoint, options, out), {
    onStderr: options.onProgress,
  });
  const { ok: _ok, ...rest } = raw as Record<string, unknown>;
  const report = parseEvalReport(rest, `evaluate ${checkpoint}`);
  if (!runDir || options.report === false) return { report, checkpoint, runDir, out };
  // The dashboard's extension point: the section is kept with the run, so every later
  // report.html (and the live dashboard) shows it; the report is refreshed now.
  const section = saveReportSection(runDir, evalReportSection(report));
  const html = await writeReport(runDir);
  return { report, checkpoint, runDir, out, section, html };
}
