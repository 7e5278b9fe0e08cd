/**
 * The "Run info" part of the page, rendered on the server as plain HTML: key facts side by side
 * (one column per run, as `runs compare` does), the config keys that differ between runs, and
 * the raw config.json / env.json / summary.json of each run.
 */
import { type MetricRecord, readJson, readMetrics, runFiles } from "../runs/run-record.js";
import { runName } from "./run-view.js";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

interface RunFilesRead {
  runDir: string;
  name: string;
  config: Record<string, unknown> | undefined;
  env: Record<string, unknown> | undefined;
  summary: Record<string, unknown> | undefined;
  metrics: MetricRecord[];
}

/** Flattens nested objects to dotted keys: {a: {b: 1}} -> {"a.b": 1}. Arrays stay values. */
export function flatten(
  value: unknown,
  prefix = "",
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out[prefix] = value;
  }
  return out;
}

function num(value: unknown, digits = 4): string {
  return typeof value === "number" && Number.isFinite(value)
    ? String(Number(value.toPrecision(digits)))
    : "-";
}

function median(values: number[]): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Whole seconds as "1 h 5 min", "4 min 0 s" or "42 s". */
function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`
    : s >= 60
      ? `${Math.floor(s / 60)} min ${s % 60} s`
      : `${s} s`;
}

function duration(startIso: unknown, endIso: unknown): string {
  if (typeof startIso !== "string" || typeof endIso !== "string") return "-";
  const s = (Date.parse(endIso) - Date.parse(startIso)) / 1000;
  return Number.isFinite(s) ? formatSeconds(s) : "-";
}

/**
 * The "steps" cell: the step reached and the limits of the run's config. "319 / 100000" alone
 * read as a run far from done when its time budget stopped it, so a budget is named beside.
 */
export function stepsCell(step: number, config: unknown): string {
  const f = flatten(config);
  const max = f["stop.max_steps"];
  const budget = f["stop.time_budget_s"];
  const limits = [
    ...(typeof max === "number" ? [`${max} steps`] : []),
    ...(typeof budget === "number" ? [`${formatSeconds(budget)} of training`] : []),
  ];
  if (typeof budget !== "number") return typeof max === "number" ? `${step} / ${max}` : String(step);
  return `${step} (limit${limits.length > 1 ? "s" : ""}: ${limits.join(", ")})`;
}

/** The facts one row each: [label, value per run]. */
function facts(runs: RunFilesRead[]): Array<[string, string[]]> {
  const row = (label: string, fn: (r: RunFilesRead) => string): [string, string[]] => [label, runs.map(fn)];
  return [
    row("run dir", (r) => r.runDir),
    row("ended", (r) => String(r.summary?.reason ?? "not yet")),
    row("steps", (r) => {
      const last = r.metrics.reduce((m, x) => Math.max(m, x.step), 0);
      const step = r.summary?.step;
      return stepsCell(typeof step === "number" ? step : last, r.config);
    }),
    row("duration", (r) => duration(r.env?.startedAt, r.summary?.endedAt)),
    row("last train loss", (r) =>
      num(r.metrics.filter((m) => (m.kind ?? "train") === "train").at(-1)?.total),
    ),
    row("best val loss", (r) => {
      const val = r.metrics.filter((m) => m.kind === "val" && typeof m.total === "number");
      if (!val.length) return "-";
      const best = val.reduce((a, b) => ((b.total as number) < (a.total as number) ? b : a));
      return `${num(best.total)} (step ${best.step})`;
    }),
    row("median samples/s", (r) =>
      num(median(r.metrics.map((m) => m.samples_per_s).filter((v) => typeof v === "number") as number[]), 3),
    ),
    row("model", (r) => {
      const f = flatten(r.config);
      return `${f["model.preset"] ?? "-"}, ${f["data.size"] ?? "?"} px, clip ${f["data.clip_len"] ?? "?"}, batch ${f["data.batch_size"] ?? "?"}`;
    }),
    row("lr", (r) => num(flatten(r.config)["train.lr"])),
    row("attempts", (r) => (r.summary?.attempts === undefined ? "-" : String(r.summary.attempts))),
    row("git commit", (r) => (typeof r.env?.gitCommit === "string" ? r.env.gitCommit.slice(0, 12) : "-")),
    row("machine", (r) => {
      const m = r.env?.machine as Record<string, unknown> | undefined;
      return m
        ? `${m.cpuModel ?? "?"} x${m.cpus ?? "?"}, ${m.memoryGiB ?? "?"} GiB, node ${m.node ?? "?"}`
        : "-";
    }),
  ];
}

function table(header: string[], rows: string[][]): string {
  const head = `<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr>`;
  const body = rows.map(
    (r) =>
      `<tr>${r.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join("")}</tr>`,
  );
  return `<table class="facts"><thead>${head}</thead><tbody>${body.join("")}</tbody></table>`;
}

function configDiff(runs: RunFilesRead[]): string {
  const flat = runs.map((r) => flatten(r.config));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  const differing = keys.filter((k) => new Set(flat.map((f) => JSON.stringify(f[k]))).size > 1);
  // Every run has its own run_dir: not a difference worth a row.
  const rows = differing
    .filter((k) => k !== "checkpoint.run_dir")
    .map((k) => [k, ...flat.map((f) => JSON.stringify(f[k]) ?? "-")]);
  if (!rows.length) return `<p class="muted">The runs' configs are identical (apart from run_dir).</p>`;
  return table(["config key", ...runs.map((r) => r.name)], rows);
}

function rawFiles(r: RunFilesRead): string {
  const block = (file: string, data: unknown) =>
    `<details><summary>${escapeHtml(file)}</summary><pre>${escapeHtml(data === undefined ? "(not written yet)" : JSON.stringify(data, null, 2))}</pre></details>`;
  return `<div class="raw"><h3>${escapeHtml(r.name)}</h3>${block("config.json", r.config)}${block("env.json", r.env)}${block("summary.json", r.summary)}</div>`;
}

/** The run info section for one or several run directories. */
export function runInfoHtml(runDirs: string[]): string {
  const runs: RunFilesRead[] = runDirs.map((runDir) => {
    const config = readJson<Record<string, unknown>>(runFiles.config(runDir));
    return {
      runDir,
      name: runName(runDir, config),
      config,
      env: readJson<Record<string, unknown>>(runFiles.env(runDir)),
      summary: readJson<Record<string, unknown>>(runFiles.summary(runDir)),
      metrics: readMetrics(runDir),
    };
  });
  const factRows = facts(runs).map(([label, values]) => [label, ...values]);
  const parts = [table(["", ...runs.map((r) => r.name)], factRows)];
  if (runs.length > 1) parts.push(`<h3>Config differences</h3>${configDiff(runs)}`);
  parts.push(...runs.map(rawFiles));
  return parts.join("\n");
}
