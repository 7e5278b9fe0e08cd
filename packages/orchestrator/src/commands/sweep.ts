/** `stillmotion sweep`: a grid or list of config overrides, run one after another, compared in one table. */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { loadRunConfig } from "../config/run-config.js";
import { asStillMotionError, StillMotionError } from "../errors.js";
import { writeJsonAtomic } from "../runs/run-record.js";
import { fmt, formatTable, summarizeRun } from "../runs/run-summary.js";
import { gridPlan, listPlan, type SweepRun } from "../runs/sweep-plan.js";
import { collect } from "./dataset/group.js";
import { train } from "./train.js";

export interface SweepOptions {
  config: string;
  grid?: string[];
  list?: string;
  root: string;
  set?: string[];
  json?: boolean;
}

export interface SweepResult {
  name: string;
  runDir: string;
  overrides: string[];
  ok: boolean;
  error?: string;
  /** Why the run failed, as the CLI would report it alone. */
  failure?: StillMotionError;
}

/**
 * Every run's config, checked before the first run starts: a bad `--set` or a bad override in the
 * grid or the list is refused at once, naming it, instead of failing each run in turn (and the
 * sweep ending with a table of failures). Each error says which run's overrides it came from.
 */
export function checkPlan(options: SweepOptions, plan: readonly SweepRun[]): void {
  const shared = options.set ?? [];
  loadRunConfig(options.config, shared); // a bad --set: the error train itself gives
  for (const [i, run] of plan.entries()) {
    try {
      loadRunConfig(options.config, [...shared, ...run.overrides]);
    } catch (err) {
      const error = asStillMotionError(err);
      const where = options.list ? `${options.list}: runs[${i}] (${run.name})` : `--grid run ${run.name}`;
      throw new StillMotionError(error.code, `${where}: ${error.message}`, {
        reason: error.reason,
        cause: err,
      });
    }
  }
}

/** The sweep's outcome as one error when any run failed (the table has each run's reason). */
export function sweepFailure(results: readonly SweepResult[], root: string): StillMotionError | undefined {
  const failed = results.filter((r) => !r.ok);
  const first = failed[0]?.failure;
  if (!first) return undefined;
  const reason = first.message.split("\n")[0];
  return new StillMotionError(
    first.code,
    `${failed.length} of ${results.length} sweep runs failed (${join(root, "sweep.json")}); first, ${failed[0].name}: ${reason}`,
    { reason: first.reason, cause: first },
  );
}

export async function sweep(options: SweepOptions) {
  const plan: SweepRun[] = options.list ? listPlan(options.list) : gridPlan(options.grid ?? []);
  checkPlan(options, plan);
  const root = resolve(options.root);
  const results: SweepResult[] = [];
  for (const [i, run] of plan.entries()) {
    const runDir = join(root, run.name);
    process.stderr.write(
      `\n== sweep ${i + 1}/${plan.length}: ${run.name} (${run.overrides.join(" ") || "base"})\n`,
    );
    try {
      await train({ config: options.config, set: [...(options.set ?? []), ...run.overrides], runDir });
      results.push({ name: run.name, runDir, overrides: run.overrides, ok: true });
    } catch (err) {
      // one failed run does not end the sweep; it is reported in the table
      const failure = asStillMotionError(err);
      results.push({
        name: run.name,
        runDir,
        overrides: run.overrides,
        ok: false,
        error: failure.message,
        failure,
      });
    }
  }
  const rows = [["run", "overrides", "status", "step", "loss", "L_I", "L_M1", "L_M2", "best val"]];
  for (const r of results) {
    const s = r.ok ? summarizeRun(r.runDir) : undefined;
    rows.push([
      r.name,
      r.overrides.join(" "),
      r.ok ? (s?.reason ?? "") : `failed: ${r.error?.split("\n")[0] ?? ""}`,
      String(s?.step ?? "-"),
      fmt(s?.lastLoss.total),
      fmt(s?.lastLoss.image),
      fmt(s?.lastLoss.mask_first),
      fmt(s?.lastLoss.mask_second),
      fmt(s?.bestValLoss),
    ]);
  }
  writeJsonAtomic(join(root, "sweep.json"), {
    config: resolve(options.config),
    results: results.map(({ failure, ...result }) => ({ ...result, code: failure?.codeName })),
  });
  return { results, table: formatTable(rows) };
}

export function register(program: Command): void {
  program
    .command("sweep")
    .description("run a grid or a list of config variants one after another and compare them")
    .requiredOption("-c, --config <file>", "base run config (YAML or JSON)")
    .option("--grid <key=v1,v2>", "an axis of the grid (repeatable; all combinations run)", collect)
    .option("--list <file>", "YAML/JSON with runs: [{name?, set: {key.path: value}}]")
    .option("--set <key=value>", "override applied to every run (repeatable)", collect)
    .option("--root <dir>", "folder for the sweep's run directories", "runs/sweep")
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  $ stillmotion sweep -c run.yaml --grid train.lr=1e-3,3e-4 --grid train.mode=fused,keyframe --root runs/lr-mode\n  $ stillmotion sweep -c run.yaml --list sweeps/recipes.yaml --set stop.max_steps=500",
    )
    .action(async (opts: SweepOptions) => {
      const { results, table } = await sweep(opts);
      console.log(opts.json ? JSON.stringify(results.map(({ failure, ...r }) => r)) : table);
      // Thrown, not process.exitCode: bin.ts sets the exit code from what main returns.
      const failure = sweepFailure(results, resolve(opts.root));
      if (failure) throw failure;
    });
}
