/**
 * `train --nproc N` (and multi-node): the trainer under torchrun, one process per rank, each
 * running `python -m stillmotion_trainer train`. Rank 0 writes metrics.jsonl; this supervisor
 * follows that durable log for progress (events are synthesized from it, seq = line number), asks
 * for a graceful stop with the run's STOP file, kills the whole process group on a second
 * interrupt, and restarts from the last checkpoint on failure when asked.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { telemetry } from "@stillmotion/proto";
import { Code, codeFromName, StillMotionError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import { pythonExecutable, trainerDir, trainerEnv } from "../trainer/python.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { readMetrics, runFiles, writeJsonAtomic } from "./run-record.js";
import type { RunOutcome, SuperviseOptions } from "./supervisor.js";

export interface DistributedOptions {
  nproc: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
}

export function torchrunArgs(
  dist: DistributedOptions,
  configFile: string,
  runDir: string,
  resume: boolean,
): string[] {
  const launch =
    (dist.nnodes ?? 1) > 1
      ? [
          `--nnodes=${dist.nnodes}`,
          `--node_rank=${dist.nodeRank ?? 0}`,
          `--master_addr=${dist.masterAddr ?? "127.0.0.1"}`,
          `--master_port=${dist.masterPort ?? 29500}`,
        ]
      : ["--standalone"];
  // --redirects/--tee: Debian 12's torch 1.13 torchrun crashes on its own defaults (docs/training.md).
  return [
    "-m",
    "torch.distributed.run",
    ...launch,
    `--nproc_per_node=${dist.nproc}`,
    "--redirects",
    "2",
    "--tee",
    "2",
  ]
    .concat(["-m", "stillmotion_trainer", "train", "--config", configFile, "--run-dir", runDir])
    .concat(resume ? ["--resume", "auto"] : []);
}

function stepEvent(seq: number, record: Record<string, unknown>): TelemetryEvent {
  const scalars: Record<string, number> = {};
  for (const [k, v] of Object.entries(record)) if (typeof v === "number") scalars[k] = v;
  const step = Number(record.step);
  return telemetry.TelemetryEvent.fromPartial(
    record.kind === "val"
      ? { seq, validation: { step, scalars } }
      : { seq, step: { step, epoch: Math.floor(scalars.epoch ?? 0), scalars } },
  );
}

export async function superviseTorchrun(
  options: SuperviseOptions & { distributed: DistributedOptions },
): Promise<RunOutcome> {
  const log: Logger = options.logger ?? silentLogger;
  const configFile = join(options.runDir, "launch-config.json");
  writeJsonAtomic(configFile, options.config);
  const failures: string[] = [];
  let delivered = 0;
  for (let attempt = 0; ; attempt++) {
    const resume = Boolean(options.resume) || attempt > 0;
    const args = torchrunArgs(options.distributed, configFile, options.runDir, resume);
    log.info({ args, attempt }, "launching torchrun");
    const child = spawn(pythonExecutable(), args, {
      cwd: trainerDir(),
      env: trainerEnv(options.trainerEnv),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: we signal the group, torchrun and every rank
    });
    let stdout = "";
    const stderrTail: string[] = [];
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      for (const line of c.toString().split("\n")) if (line) stderrTail.push(line);
      stderrTail.splice(0, Math.max(0, stderrTail.length - 40));
    });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {}
    };
    process.once("exit", killGroup);
    const onStop = () =>
      writeJsonAtomic(runFiles.stop(options.runDir), { requestedAt: new Date().toISOString() });
    options.stopSignal?.addEventListener("abort", onStop, { once: true });
    options.killSignal?.addEventListener("abort", killGroup, { once: true });
    // Follow the durable log: every line past what was delivered becomes an event, in order.
    let seen = 0;
    const follow = () => {
      const records = readMetrics(options.runDir);
      if (records.length < seen) seen = 0; // the log was truncated on resume
      for (const record of records.slice(seen)) options.onEvent?.(stepEvent(++delivered, record), attempt);
      seen = records.length;
    };
    const poll = setInterval(follow, 500);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearInterval(poll);
    follow(); // the tail written after the last poll
    process.off("exit", killGroup);
    options.stopSignal?.removeEventListener("abort", onStop);
    options.killSignal?.removeEventListener("abort", killGroup);
    if (options.killSignal?.aborted) throw new StillMotionError(Code.CANCELLED, "run killed on request");
    const last = stdout.trim().split("\n").at(-1) ?? "";
    let end: { event?: string; reason?: string; step?: number; message?: string; code?: string } = {};
    try {
      end = JSON.parse(last);
    } catch {}
    if (code === 0 && end.event === "end") {
      const ended = telemetry.TelemetryEvent.fromPartial({
        seq: ++delivered,
        runEnded: { step: end.step ?? 0, reason: end.reason ?? "" },
      });
      options.onEvent?.(ended, attempt);
      return {
        runDir: options.runDir,
        runId: `torchrun-${child.pid}`,
        reason: end.reason ?? "",
        step: end.step ?? 0,
        attempts: attempt + 1,
        failures,
        stats: { delivered, backfilled: 0, duplicatesDropped: 0, gaps: 0 },
      };
    }
    const why = end.message ?? `torchrun exit code ${code}: ${stderrTail.slice(-5).join(" | ")}`;
    // The train command's error line names its gRPC code (stillmotion_trainer/errors.py).
    if (end.event === "error")
      throw new StillMotionError(codeFromName(end.code ?? "") ?? Code.INTERNAL, `run failed: ${why}`);
    failures.push(why);
    if (attempt >= (options.restartOnFailure ?? 0))
      throw new StillMotionError(Code.UNAVAILABLE, `trainer died: ${why}`);
    log.warn({ why }, "torchrun run died; restarting from the last checkpoint");
  }
}
