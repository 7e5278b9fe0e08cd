/**
 * Reading finished or live runs back from their directories (for `status`, `runs list|show|
 * compare` and reports): the last metrics, the best validation loss, how the run ended.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { readJson, readMetrics, runFiles } from "./run-record.js";

export interface RunSummary {
  runDir: string;
  name: string;
  state: "finished" | "running" | "stopped" | "unknown";
  step: number;
  reason: string;
  lastLoss: Record<string, number>;
  bestValLoss: number | null;
  checkpoints: string[];
}

export function isRunDir(dir: string): boolean {
  return existsSync(runFiles.config(dir)) || existsSync(runFiles.metrics(dir));
}

export function summarizeRun(dir: string): RunSummary {
  const runDir = resolve(dir);
  const metrics = readMetrics(runDir);
  const train = metrics.filter((m) => (m.kind ?? "train") === "train");
  const val = metrics.filter((m) => m.kind === "val");
  const last = train.at(-1);
  const summary = readJson<{ reason?: string; step?: number }>(runFiles.summary(runDir));
  const lastLoss: Record<string, number> = {};
  for (const key of ["total", "image", "mask_first", "mask_second", "adv"]) {
    if (typeof last?.[key] === "number") lastLoss[key] = last[key] as number;
  }
  const valTotals = val.map((m) => m.total).filter((v): v is number => typeof v === "number");
  const ckptDir = join(runDir, "checkpoints");
  const config = readJson<{ name?: string | null }>(runFiles.config(runDir));
  return {
    runDir,
    name: config?.name ?? runDir.split("/").at(-1) ?? runDir,
    state: summary ? "finished" : existsSync(runFiles.endpoint(runDir)) ? "running" : "unknown",
    step: summary?.step ?? last?.step ?? 0,
    reason: summary?.reason ?? "",
    lastLoss,
    bestValLoss: valTotals.length ? Math.min(...valTotals) : null,
    checkpoints: existsSync(ckptDir)
      ? readdirSync(ckptDir)
          .filter((f) => f.endsWith(".pt"))
          .sort()
      : [],
  };
}

/** Run directories directly under `root`, newest first. */
export function listRuns(root: string): RunSummary[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((dir) => statSync(dir).isDirectory() && isRunDir(dir))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    .map(summarizeRun);
}

export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (cell ?? "").padEnd(widths[c]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function fmt(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
}
