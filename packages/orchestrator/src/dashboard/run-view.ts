/**
 * What the dashboard page and the report know about one run: its status, its metric records
 * (metrics.jsonl rows, or the same rows rebuilt from live telemetry) and its recent previews.
 * One shape for live runs, tailed run directories and static reports.
 */
import { basename, resolve } from "node:path";
import {
  type MetricRecord,
  readJson,
  readMetrics,
  runFiles,
  type TrainerEndpoint,
} from "../runs/run-record.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { readRecentPreviews, type StoredPreview } from "./preview-store.js";

export type RunState = "running" | "finished" | "stopped" | "failed" | "unknown";

export interface RunStatus {
  state: RunState;
  /** Last step reached. */
  step: number;
  /** stop.max_steps of the run's config, when set. */
  maxSteps: number | null;
  /** How the run ended ("max_steps", "stopped", "failed: ..."), empty while it runs. */
  reason: string;
}

export interface RunView {
  name: string;
  runDir: string;
  status: RunStatus;
  /** Train and val rows, in the order of metrics.jsonl (kind "train" | "val"). */
  metrics: MetricRecord[];
  /** Recent preview strips, oldest first. */
  previews: StoredPreview[];
}

/** Most train rows a snapshot carries; longer runs are thinned evenly (first and last kept). */
export const MAX_TRAIN_ROWS = 5000;

// One rule for the server and the page script (client/ bundles the same module).
export { appendMetric } from "./metric-rows.js";

/** Keeps at most `max` train rows, evenly spaced, always the first and the last; val rows all. */
export function thinMetrics(rows: MetricRecord[], max = MAX_TRAIN_ROWS): MetricRecord[] {
  const trainCount = rows.filter((r) => (r.kind ?? "train") === "train").length;
  if (trainCount <= max) return rows;
  const stride = trainCount / max;
  let seen = 0;
  let next = 0;
  return rows.filter((r) => {
    if ((r.kind ?? "train") !== "train") return true;
    const i = seen++;
    if (i === trainCount - 1 || i >= next) {
      next += stride;
      return true;
    }
    return false;
  });
}

/** The metric row a telemetry step or validation event stands for (undefined for other kinds). */
export function metricFromEvent(event: TelemetryEvent): MetricRecord | undefined {
  const time = event.timeUnixS;
  if (event.step) return { step: Number(event.step.step), kind: "train", time, ...event.step.scalars };
  if (event.validation) {
    return { step: Number(event.validation.step), kind: "val", time, ...event.validation.scalars };
  }
  return undefined;
}

/** stop.max_steps from a config object, or null. */
export function maxStepsOf(config: unknown): number | null {
  const value = (config as { stop?: { max_steps?: unknown } } | undefined)?.stop?.max_steps;
  return typeof value === "number" ? value : null;
}

/** The run's name: config `name`, else the folder name. */
export function runName(runDir: string, config: unknown): string {
  const name = (config as { name?: unknown } | undefined)?.name;
  return typeof name === "string" && name ? name : basename(resolve(runDir));
}

function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Status from the files alone: summary.json = ended; orchestrator.json written by a process that
 * is still alive = running; anything else = unknown (e.g. an orchestrator that was killed).
 */
export function statusFromDisk(runDir: string, metrics: MetricRecord[]): RunStatus {
  const config = readJson<unknown>(runFiles.config(runDir));
  const summary = readJson<{ reason?: string; step?: number }>(runFiles.summary(runDir));
  const lastStep = metrics.reduce((m, r) => Math.max(m, r.step), 0);
  let state: RunState = "unknown";
  if (summary)
    state = summary.reason === "stopped" ? "stopped" : summary.reason === "failed" ? "failed" : "finished";
  else if (isAlive(readJson<TrainerEndpoint>(runFiles.endpoint(runDir))?.orchestratorPid)) state = "running";
  return {
    state,
    step: summary?.step ?? lastStep,
    maxSteps: maxStepsOf(config),
    reason: summary?.reason ?? "",
  };
}

/** Everything the page needs about a run directory, read from its files. */
export function loadRunView(runDir: string): RunView {
  const dir = resolve(runDir);
  const metrics = readMetrics(dir);
  return {
    name: runName(dir, readJson<unknown>(runFiles.config(dir))),
    runDir: dir,
    status: statusFromDisk(dir, metrics),
    metrics: thinMetrics(metrics),
    previews: readRecentPreviews(dir),
  };
}
