/**
 * How metric rows accumulate, shared by the server (run-view.ts, run-source.ts) and the page
 * script (client/, bundled at build time). Types only besides this function, so the browser
 * bundle takes nothing from Node.
 */
import type { MetricRecord } from "../runs/run-record.js";

/**
 * Adds a row the way the trainer's metrics.jsonl evolves. A restarted trainer re-runs the steps
 * after its checkpoint, so a row at step s makes older rows at steps >= s stale: a train row
 * replaces train and val rows there (validation of step s follows training step s), a val row
 * replaces val rows.
 */
export function appendMetric(rows: MetricRecord[], row: MetricRecord): void {
  const kind = row.kind ?? "train";
  const last = rows[rows.length - 1];
  if (last && last.step >= row.step) {
    const kept = rows.filter(
      (r) => !(r.step >= row.step && (kind === "train" || (r.kind ?? "train") === kind)),
    );
    rows.length = 0;
    for (const r of kept) rows.push(r);
  }
  rows.push(row);
}
