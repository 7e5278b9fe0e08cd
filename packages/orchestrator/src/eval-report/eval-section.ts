/**
 * The evaluation as a section of the run report (the dashboard's ReportSection extension
 * point, dashboard/page-data.ts): the summary table as HTML, and per-video Dice (model vs
 * copy-key vs flow) and next-frame PSNR (model vs copy-last-frame) as bar charts the page draws
 * with its own renderer.
 */
import type { ChartSpec, ReportSection } from "../dashboard/page-data.js";
import { escapeHtml } from "../dashboard/run-info.js";
import {
  type EvalBlock,
  type EvalReport,
  IMAGE_METHODS,
  MASK_METHODS,
  MASK_METRICS,
  type MaskMethod,
} from "./eval-report.js";
import { diceVerdict, fmt } from "./eval-table.js";

export const EVAL_SECTION_ID = "eval";

const LABELS: Record<string, string> = {
  model: "model",
  copy_key: "copy key-frame mask",
  flow: "Farneback flow",
  copy_last: "copy last frame",
};
const SHORT: Record<string, string> = {
  dice: "Dice",
  iou: "IoU",
  boundary_f: "BF",
  model: "model",
  copy_key: "copy-key",
  flow: "flow",
  copy_last: "copy-last",
};
// Fixed colours so the model reads the same in every chart: it first, baselines muted.
const COLORS: Record<string, string> = {
  model: "#2563eb",
  copy_key: "#9ca3af",
  flow: "#f59e0b",
  copy_last: "#9ca3af",
};

function row(cells: string[], headerCell = false): string {
  const [first, ...rest] = cells;
  const tag = headerCell ? "th" : "td";
  return `<tr><th>${escapeHtml(first)}</th>${rest.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join("")}</tr>`;
}

function summaryRows(name: string, block: EvalBlock, frames: number): string[] {
  return [
    name,
    String(frames),
    ...MASK_METRICS.flatMap((k) => MASK_METHODS.map((m) => fmt(block.masks[m][k]))),
    ...IMAGE_METHODS.map((m) => fmt(block.next_frame[m].psnr, 2)),
    fmt(block.mask_stats.fraction_above_half, 2),
  ];
}

/** The HTML table: per video and overall, every mask metric per method, PSNR, mask share. */
export function evalTableHtml(report: EvalReport): string {
  const head = [
    "video",
    "scored frames",
    ...MASK_METRICS.flatMap((k) => MASK_METHODS.map((m) => `${SHORT[k]} ${SHORT[m]}`)),
    ...IMAGE_METHODS.map((m) => `PSNR ${SHORT[m]}`),
    "model mask > 0.5",
  ];
  const body = report.videos.map((v) => row(summaryRows(v.id, v, v.scored_frames)));
  const o = report.overall;
  body.push(row(summaryRows("mean over videos", o.mean_over_videos, o.scored_frames)));
  body.push(row(summaryRows("frame-weighted", o.frame_weighted, o.scored_frames)));
  return `<table class="facts eval"><thead>${row(head, true)}</thead><tbody>${body.join("")}</tbody></table>`;
}

function diceChart(report: EvalReport): ChartSpec {
  return {
    title: "Propagation Dice per video",
    kind: "bars",
    yLabel: "Dice",
    categories: [...report.videos.map((v) => v.id), "all (frame-weighted)"],
    series: MASK_METHODS.map((m: MaskMethod) => ({
      label: LABELS[m],
      color: COLORS[m],
      values: [...report.videos.map((v) => v.masks[m].dice), report.overall.frame_weighted.masks[m].dice],
    })),
  };
}

function psnrChart(report: EvalReport): ChartSpec {
  return {
    title: "Next-frame PSNR per video",
    kind: "bars",
    yLabel: "PSNR (dB)",
    categories: [...report.videos.map((v) => v.id), "all (frame-weighted)"],
    series: IMAGE_METHODS.map((m) => ({
      label: LABELS[m],
      color: COLORS[m],
      values: [
        ...report.videos.map((v) => v.next_frame[m].psnr),
        report.overall.frame_weighted.next_frame[m].psnr,
      ],
    })),
  };
}

/** The report section for `report`; saving it again under EVAL_SECTION_ID replaces the old one. */
export function evalReportSection(report: EvalReport): ReportSection {
  const fw = report.overall.frame_weighted;
  const { baseline, margin } = diceVerdict(report);
  const size = report.size === "native" ? "native size" : `${report.size[0]}x${report.size[1]}`;
  const facts = [
    `${escapeHtml(report.dataset_name)}, split ${escapeHtml(report.split)}: ${report.overall.videos} video(s),`,
    `${report.overall.scored_frames} scored frame(s), ${escapeHtml(size)}, ${escapeHtml(report.fusion)} fusion,`,
    `boundary F within ${report.boundary_tolerance_px} px.`,
    `Frame-weighted Dice: model <b>${fmt(fw.masks.model.dice)}</b> vs ${escapeHtml(LABELS[baseline])}`,
    `${fmt(fw.masks[baseline].dice)} (margin ${margin === null ? "–" : margin.toFixed(3)}).`,
  ];
  const warnings = report.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("");
  return {
    id: EVAL_SECTION_ID,
    title: `Evaluation${report.step === null ? "" : ` (step ${report.step})`}`,
    order: 50,
    html: [
      `<p>${facts.join(" ")}</p>`,
      evalTableHtml(report),
      warnings ? `<ul class="warnings">${warnings}</ul>` : "",
    ].join("\n"),
    charts: [diceChart(report), psnrChart(report)],
  };
}
