/**
 * What the orchestrator adds to a run directory (the trainer writes config.json, metrics.jsonl
 * and checkpoints/ itself):
 *   env.json            versions, device, git commit, machine — written at start
 *   orchestrator.json   where the live trainer listens and its token (for `stillmotion
 *                       stop/status`); mode 0600, since the token lets its holder steer the run
 *   summary.json        how the run ended
 *   logs/orchestrator.log
 * Every write is atomic (@stillmotion/inference's fs-atomic: temp + fsync + rename).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { writeFileAtomicSync } from "@stillmotion/inference/fs-atomic";

/** Synchronous: summary.json is written from exit paths that must not yield. */
export function writeJsonAtomic(path: string, data: unknown, options: { mode?: number } = {}): void {
  writeFileAtomicSync(path, `${JSON.stringify(data, null, 2)}\n`, options);
}

/** Mode of a file that holds a secret (orchestrator.json: the trainer's token): owner only. */
export const PRIVATE_FILE_MODE = 0o600;

export function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function gitCommit(cwd: string): string | null {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export interface TrainerEndpoint {
  pid: number;
  orchestratorPid: number;
  grpcAddress: string;
  /** The trainer's per-run bearer token (why the file is PRIVATE_FILE_MODE). */
  token?: string;
  telemetryEndpoint: string;
  runId: string;
  attempt: number;
  startedAt: string;
}

export const runFiles = {
  env: (runDir: string) => join(runDir, "env.json"),
  endpoint: (runDir: string) => join(runDir, "orchestrator.json"),
  summary: (runDir: string) => join(runDir, "summary.json"),
  log: (runDir: string) => join(runDir, "logs", "orchestrator.log"),
  metrics: (runDir: string) => join(runDir, "metrics.jsonl"),
  config: (runDir: string) => join(runDir, "config.json"),
  stop: (runDir: string) => join(runDir, "STOP"),
};

export function machineInfo(): Record<string, unknown> {
  return {
    hostname: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export interface MetricRecord {
  step: number;
  kind?: string;
  [key: string]: unknown;
}

/** The run's durable metrics (metrics.jsonl written by the trainer). */
export function readMetrics(runDir: string): MetricRecord[] {
  const path = runFiles.metrics(runDir);
  if (!existsSync(path)) return [];
  const out: MetricRecord[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricRecord);
    } catch {
      // a torn last line from a killed writer; the trainer rewrites the file on resume
    }
  }
  return out;
}
