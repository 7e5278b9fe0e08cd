/**
 * Which charts the page draws, from the runs' metric rows: pure data in, chart models out (no
 * DOM), so they can be tested and reused by any view.
 */
import type { MetricRecord } from "../../runs/run-record.js";
import type { ChartSeries, ChartSpec } from "../page-data.js";
import type { RunView } from "../run-view.js";

export const RUN_COLORS = [
  "#2563eb",
  "#f97316",
  "#16a34a",
  "#dc2626",
  "#9333ea",
  "#0891b2",
  "#ca8a04",
  "#db2777",
];
const TERM_COLORS: Record<string, string> = {
  total: "#111827",
  image: "#2563eb",
  mask_first: "#f97316",
  mask_second: "#16a34a",
  adv: "#9333ea",
  d_loss: "#a16207",
};
const TERM_TITLES: Record<string, string> = {
  total: "Total loss",
  image: "L_I · image loss",
  mask_first: "L_M1 · first mask loss",
  mask_second: "L_M2 · second mask loss",
  adv: "L_adv · adversarial loss",
  d_loss: "Discriminator loss",
};
const TERM_SHORT: Record<string, string> = {
  total: "total",
  image: "L_I",
  mask_first: "L_M1",
  mask_second: "L_M2",
  adv: "L_adv",
  d_loss: "D loss",
};
export const VAL_COLOR = "#dc2626";

/** A line as the page draws it. */
export interface Line extends ChartSeries {
  /** Smoothed with the page's EMA setting (training curves; never validation). */
  smooth?: boolean;
  markers?: boolean;
}

export interface ChartModel extends ChartSpec {
  key: string;
  wide?: boolean;
  /** The "log scale" switch applies to this chart. */
  logAllowed?: boolean;
  series: Line[];
}

export function seriesOf(rows: MetricRecord[], kind: string, field: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of rows) {
    const v = r[field];
    if ((r.kind ?? "train") === kind && typeof v === "number" && Number.isFinite(v)) out.push([r.step, v]);
  }
  return out;
}

export function lossTerms(runs: RunView[]): string[] {
  const any = (pred: (m: MetricRecord) => boolean) => runs.some((r) => r.metrics.some(pred));
  const terms = ["total", "image", "mask_first", "mask_second"];
  if (any((m) => typeof m.adv === "number" && m.adv !== 0)) terms.push("adv");
  if (any((m) => typeof m.d_loss === "number")) terms.push("d_loss");
  return terms;
}

export function metricCharts(runs: RunView[]): ChartModel[] {
  const single = runs.length === 1;
  const runColor = (i: number) => RUN_COLORS[i % RUN_COLORS.length];
  const prefix = (r: RunView) => (single ? "" : `${r.name} · `);
  const terms = lossTerms(runs);
  const charts: ChartModel[] = [];
  if (single) {
    const rows = runs[0].metrics;
    charts.push({
      key: "losses",
      title: "Loss terms",
      kind: "line",
      wide: true,
      logAllowed: true,
      series: [
        ...terms.map((t) => ({
          label: TERM_SHORT[t],
          color: TERM_COLORS[t],
          smooth: true,
          points: seriesOf(rows, "train", t),
        })),
        {
          label: "val total",
          color: VAL_COLOR,
          dashed: true,
          markers: true,
          points: seriesOf(rows, "val", "total"),
        },
      ],
    });
  }
  for (const term of terms) {
    charts.push({
      key: term,
      title: TERM_TITLES[term],
      kind: "line",
      logAllowed: true,
      series: runs.flatMap((r, i) => {
        const color = single ? TERM_COLORS[term] : runColor(i);
        const val = seriesOf(r.metrics, "val", term);
        const lines: Line[] = [
          { label: `${prefix(r)}train`, color, smooth: true, points: seriesOf(r.metrics, "train", term) },
        ];
        if (val.length)
          lines.push({
            label: `${prefix(r)}val`,
            color: single ? VAL_COLOR : color,
            dashed: true,
            markers: true,
            points: val,
          });
        return lines;
      }),
    });
  }
  charts.push({
    key: "lr",
    title: "Learning rate",
    kind: "line",
    series: runs.map((r, i) => ({
      label: single ? "lr" : r.name,
      color: single ? "#0891b2" : runColor(i),
      points: seriesOf(r.metrics, "train", "lr"),
    })),
  });
  charts.push({
    key: "throughput",
    title: single ? "Throughput" : "Throughput (samples/s)",
    kind: "line",
    series: runs.flatMap((r, i): Line[] => {
      const samples = {
        label: single ? "samples/s" : r.name,
        color: single ? "#7c3aed" : runColor(i),
        smooth: true,
        points: seriesOf(r.metrics, "train", "samples_per_s"),
      };
      if (!single) return [samples];
      return [
        samples,
        {
          label: "frames/s",
          color: "#db2777",
          smooth: true,
          points: seriesOf(r.metrics, "train", "frames_per_s"),
        },
      ];
    }),
  });
  return charts;
}
