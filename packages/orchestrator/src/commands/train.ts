/**
 * `stillmotion train`: validate the config, then supervise a training run of the Python trainer
 * (gRPC control + ZeroMQ telemetry), with a progress bar, graceful Ctrl-C and restarts.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { loadRunConfig, type RunConfig } from "../config/run-config.js";
import { TrainDashboard } from "../dashboard/train-dashboard.js";
import { Code, StillMotionError } from "../errors.js";
import { createLogger } from "../logger.js";
import { repoRoot } from "../repo-paths.js";
import { RunProgress } from "../runs/progress.js";
import { gitCommit, machineInfo, runFiles, writeJsonAtomic } from "../runs/run-record.js";
import { type RunOutcome, type SuperviseOptions, superviseRun } from "../runs/supervisor.js";
import { superviseTorchrun } from "../runs/torchrun-supervisor.js";
import { collect } from "./dataset/group.js";
import { integerOption } from "./integer-option.js";

/** Most restarts --restart-on-failure allows: a trainer that dies 100 times will not recover. */
export const MAX_RESTARTS = 100;

/** Bounds for the torchrun options: far above any real job, low enough to catch a typo. */
export const MAX_NPROC = 1024;
export const MAX_NNODES = 4096;

export interface TrainOptions {
  config: string;
  set?: string[];
  runDir?: string;
  resume?: boolean;
  restartOnFailure?: number;
  json?: boolean;
  progress?: boolean;
  /** Processes per node under torchrun (1 = one trainer process driven over gRPC). */
  nproc?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** Serve the live dashboard: true = default port, or a port number ("0" = any free port). */
  dashboard?: string | boolean;
}

export function resolveRunDir(config: RunConfig, runDir?: string): string {
  return resolve(runDir ?? config.checkpoint.run_dir);
}

/** What in a run directory makes it hold a run (the trainer's rule, run_dir.resolve_resume). */
function runMarkers(runDir: string): string[] {
  const found = ["config.json", "metrics.jsonl"].filter((name) => existsSync(join(runDir, name)));
  const checkpoints = join(runDir, "checkpoints");
  if (existsSync(checkpoints) && readdirSync(checkpoints).some((f) => f.endsWith(".pt"))) {
    found.push("checkpoints/");
  }
  return found;
}

/**
 * A fresh run refuses a directory that already holds one, before anything is written there: the
 * trainer refuses it too, but only after env.json, orchestrator.json and the report had been
 * rewritten over the old run's.
 */
export function refuseUsedRunDir(runDir: string): void {
  const markers = runMarkers(runDir);
  if (markers.length) {
    throw new StillMotionError(
      Code.ALREADY_EXISTS,
      `${runDir}: run directory already holds a run (${markers.join(", ")}); pass --resume to continue it, or choose another --run-dir`,
    );
  }
}

/** Whether a run got as far as logging a step or writing a checkpoint (then it is kept). */
function trainedAStep(runDir: string): boolean {
  const metrics = join(runDir, "metrics.jsonl");
  return (existsSync(metrics) && statSync(metrics).size > 0) || runMarkers(runDir).includes("checkpoints/");
}

function isEmptyOrAbsent(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

export async function train(options: TrainOptions): Promise<RunOutcome> {
  const config = loadRunConfig(options.config, options.set ?? []);
  // The trainer resolves relative dataset paths from its own working directory: pin them here.
  config.data.dataset = resolve(config.data.dataset);
  const runDir = resolveRunDir(config, options.runDir);
  if (!options.resume) refuseUsedRunDir(runDir);
  // A run refused at start (bad clip_len, a manifest path outside the dataset...) must not leave
  // a run directory that looks like a run: one this command created goes again.
  const createdRunDir = isEmptyOrAbsent(runDir);
  const log = createLogger({ file: runFiles.log(runDir), json: options.json });
  // Keeps previews in run_dir/previews/, serves --dashboard, writes report.html at the end.
  const board = await TrainDashboard.start(runDir, { dashboard: options.dashboard, logger: log });
  const stop = new AbortController();
  const kill = new AbortController();
  const onSigint = () => {
    if (!stop.signal.aborted) {
      process.stderr.write("\nstopping after this step (checkpoint follows); Ctrl-C again to kill\n");
      stop.abort();
    } else kill.abort();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);

  const progress = new RunProgress(
    config.stop.max_steps,
    options.progress ?? Boolean(process.stderr.isTTY),
    25,
    config.stop.time_budget_s,
  );
  const env: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    gitCommit: gitCommit(repoRoot()),
    machine: machineInfo(),
    configSource: resolve(options.config),
    overrides: options.set ?? [],
  };
  writeJsonAtomic(runFiles.env(runDir), env);
  // Once the trainer answers: its versions (trainer, protocol, Python, torch) and device.
  const onStarted = ({ version }: { version: object }) =>
    writeJsonAtomic(runFiles.env(runDir), { ...env, trainer: version });
  let failure: unknown;
  try {
    const supervise =
      (options.nproc ?? 1) > 1 || (options.nnodes ?? 1) > 1
        ? (o: SuperviseOptions) =>
            superviseTorchrun({
              ...o,
              distributed: {
                nproc: options.nproc ?? 1,
                nnodes: options.nnodes,
                nodeRank: options.nodeRank,
                masterAddr: options.masterAddr,
                masterPort: options.masterPort,
              },
            })
        : superviseRun;
    const outcome = await supervise({
      config,
      runDir,
      resume: options.resume,
      restartOnFailure: options.restartOnFailure,
      stopSignal: stop.signal,
      killSignal: kill.signal,
      logger: log,
      onStarted,
      onEvent: (event) => {
        progress.onEvent(event);
        board.onEvent(event);
      },
    });
    writeJsonAtomic(runFiles.summary(runDir), { ...outcome, endedAt: new Date().toISOString() });
    return outcome;
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    progress.stop();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    // Throws only after a run that succeeded (a report a full disk refused): then nothing below runs.
    await board.finish(failure);
    if (failure && createdRunDir && !trainedAStep(runDir)) rmSync(runDir, { recursive: true, force: true });
  }
}

/** A rank names one of the --nnodes machines: 0 .. nnodes - 1 (torchrun would wait forever). */
export function checkNodeRank(opts: Pick<TrainOptions, "nnodes" | "nodeRank">): void {
  const nnodes = opts.nnodes ?? 1;
  if (opts.nodeRank !== undefined && opts.nodeRank >= nnodes) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `--node-rank: expected an integer in [0, ${nnodes - 1}] (below --nnodes ${nnodes}), got ${opts.nodeRank}`,
    );
  }
}

export function register(program: Command): void {
  program
    .command("train")
    .description("train the generator with the Python trainer, supervised over gRPC + ZeroMQ")
    .requiredOption("-c, --config <file>", "run config, YAML or JSON (schemas/train-config.v1.schema.json)")
    .option("--set <key=value>", "override a config key (repeatable)", collect)
    .option("--run-dir <dir>", "run directory (default: checkpoint.run_dir of the config)")
    .option("--resume", "continue the run directory's latest checkpoint")
    .option(
      "--restart-on-failure <n>",
      "restart a dead trainer from its last checkpoint up to n times",
      integerOption("--restart-on-failure", 0, MAX_RESTARTS),
    )
    .option("--json", "print the outcome as one JSON object (and log JSON lines on stderr)")
    // Number() let `--nproc abc` through as NaN (silently one process) and `--nproc 1.5` to torchrun.
    .option(
      "--nproc <n>",
      "processes per node under torchrun (DistributedDataParallel)",
      integerOption("--nproc", 1, MAX_NPROC),
    )
    .option(
      "--nnodes <n>",
      "machines taking part (multi-node torchrun)",
      integerOption("--nnodes", 1, MAX_NNODES),
    )
    .option(
      "--node-rank <r>",
      "this machine's rank among --nnodes",
      integerOption("--node-rank", 0, MAX_NNODES - 1),
    )
    .option("--master-addr <host>", "rank 0's address for multi-node rendezvous")
    .option(
      "--master-port <port>",
      "rank 0's port for multi-node rendezvous",
      integerOption("--master-port", 1, 65535),
    )
    .option("--dashboard [port]", "serve the live dashboard (default port 6007; 0 = any free one)")
    .addHelpText(
      "after",
      `
Examples:
  $ stillmotion train --config configs/quickstart.yaml
  $ stillmotion train -c run.yaml --set train.lr=3e-4 --set stop.max_steps=2000 --run-dir runs/lr3e-4
  $ stillmotion train -c run.yaml --run-dir runs/a --resume --restart-on-failure 3
  $ stillmotion train -c run.yaml --nproc 2                      # 2 processes, DDP (gloo on CPU)
  $ stillmotion train -c run.yaml --nproc 8 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1
  $ stillmotion train -c run.yaml --dashboard          # then open the printed URL

Ctrl-C once: finish the step, checkpoint, stop. Twice: kill.`,
    )
    .action(async (opts: TrainOptions) => {
      checkNodeRank(opts);
      const outcome = await train(opts);
      if (opts.json) console.log(JSON.stringify(outcome));
      else
        console.log(
          `run ${outcome.runId} ended (${outcome.reason}) at step ${outcome.step}: ${outcome.runDir}`,
        );
    });
}
