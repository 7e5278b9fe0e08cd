/**
 * The terminal view of an evaluation report: one table for mask propagation (model vs copy-key
 * vs flow on Dice, IoU and boundary F, plus the model's mask statistics), one for next-frame
 * prediction (model vs copy-last-frame on PSNR and SSIM), per video and overall, then a verdict
 * and the warnings. docs/evaluation.md, "Reading the table".
 */
import {
  type EvalBlock,
  type EvalReport,
  IMAGE_METHODS,
  IMAGE_METRICS,
  MASK_METHODS,
  MASK_METRICS,
  type MaskMethod,
} from "./eval-report.js";

const METHOD_LABEL: Record<string, string> = {
  model: "model",
  copy_key: "copy-key",
  flow: "flow",
  copy_last: "copy-last",
};
const METRIC_LABEL: Record<string, string> = {
  dice: "Dice",
  iou: "IoU",
  boundary_f: "Boundary F",
  psnr: "PSNR (dB)",
  ssim: "SSIM",
};

export function fmt(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
}

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
export function alignColumns(rows: string[][], gap = "  "): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join(gap)
      .trimEnd(),
  );
}

/** A header row naming each metric over its group of methods, then the method row. */
function groupedHeader(
  first: string[],
  groups: Array<{ title: string; methods: readonly string[] }>,
): string[][] {
  const top = first.map(() => "");
  const bottom = [...first];
  for (const g of groups) {
    g.methods.forEach((m, i) => {
      top.push(i === 0 ? g.title : "");
      bottom.push(METHOD_LABEL[m] ?? m);
    });
  }
  return [top, bottom];
}

function maskCells(block: Pick<EvalBlock, "masks">, stats: EvalBlock["mask_stats"]): string[] {
  const cells: string[] = [];
  for (const metric of MASK_METRICS) for (const m of MASK_METHODS) cells.push(fmt(block.masks[m][metric]));
  cells.push(fmt(stats.fraction_above_half, 2), fmt(stats.gt_fraction, 2));
  return cells;
}

function imageCells(block: Pick<EvalBlock, "next_frame">): string[] {
  const cells: string[] = [];
  for (const metric of IMAGE_METRICS) {
    for (const m of IMAGE_METHODS) cells.push(fmt(block.next_frame[m][metric], metric === "psnr" ? 2 : 3));
  }
  return cells;
}

/** The mask-propagation table, one row per video, then the two overall rows. */
export function maskTable(report: EvalReport): string[] {
  const header = groupedHeader(
    ["video", "frames"],
    MASK_METRICS.map((k) => ({ title: METRIC_LABEL[k], methods: MASK_METHODS })),
  );
  header[0].push("model >0.5", "");
  header[1].push("mask", "gt");
  const rows = report.videos.map((v) => [
    v.key_source === "gt_fallback" ? `${v.id} (gt key)` : v.id,
    String(v.scored_frames),
    ...maskCells(v, v.mask_stats),
  ]);
  const o = report.overall;
  rows.push(
    [
      "mean over videos",
      String(o.scored_frames),
      ...maskCells(o.mean_over_videos, o.mean_over_videos.mask_stats),
    ],
    ["frame-weighted", String(o.scored_frames), ...maskCells(o.frame_weighted, o.frame_weighted.mask_stats)],
  );
  return alignColumns([...header, ...rows]);
}

/** The next-frame table: model vs copy-last-frame, PSNR and SSIM. */
export function imageTable(report: EvalReport): string[] {
  const header = groupedHeader(
    ["video", "steps"],
    IMAGE_METRICS.map((k) => ({ title: METRIC_LABEL[k], methods: IMAGE_METHODS })),
  );
  const rows = report.videos.map((v) => [v.id, String(v.transitions), ...imageCells(v)]);
  const o = report.overall;
  rows.push(
    ["mean over videos", String(o.transitions), ...imageCells(o.mean_over_videos)],
    ["frame-weighted", String(o.transitions), ...imageCells(o.frame_weighted)],
  );
  return alignColumns([...header, ...rows]);
}

/** The better baseline by frame-weighted Dice, and the model's margin over it. */
export function diceVerdict(report: EvalReport): { baseline: MaskMethod; margin: number | null } {
  const m = report.overall.frame_weighted.masks;
  const baseline: MaskMethod = (m.flow.dice ?? -1) > (m.copy_key.dice ?? -1) ? "flow" : "copy_key";
  const margin =
    m.model.dice === null || m[baseline].dice === null ? null : m.model.dice - (m[baseline].dice ?? 0);
  return { baseline, margin };
}

function signed(value: number | null, digits: number): string {
  return value === null ? "–" : `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
}

/** The whole terminal view. */
export function formatEvalReport(report: EvalReport): string {
  const o = report.overall;
  const size = report.size === "native" ? "native size" : `${report.size[0]}x${report.size[1]}`;
  const lines = [
    `eval ${report.checkpoint}${report.step === null ? "" : ` (step ${report.step})`}`,
    `on ${report.dataset_name}, split ${report.split}: ${o.videos} video(s), ${size}, ${report.fusion} fusion, ` +
      `masks carried from ${report.reference === "key" ? "the key frame" : "the previous frame"}` +
      (report.adapt_steps
        ? `, correction fitted to each video's key frames (${report.adapt_steps} steps` +
          `${report.adapt_seed ? `, seed ${report.adapt_seed}` : ""})`
        : "") +
      (report.downsample && report.downsample > 1
        ? `, the model at 1/${report.downsample} of that size per side (masks brought back up)`
        : "") +
      (report.skipped.length ? `, ${report.skipped.length} skipped` : ""),
    "",
    `Mask propagation on ${o.scored_frames} non-key frame(s) (boundary F within ${report.boundary_tolerance_px} px)`,
    ...maskTable(report),
    "",
    "Next frame: G(I_t, M_t) vs copy-last-frame, against the real I_{t+1}",
    ...imageTable(report),
    "",
  ];
  const fw = o.frame_weighted;
  const { baseline, margin } = diceVerdict(report);
  lines.push(
    `Dice (frame-weighted): model ${fmt(fw.masks.model.dice)} vs ${METHOD_LABEL[baseline]} ` +
      `${fmt(fw.masks[baseline].dice)} (better baseline), margin ${signed(margin, 3)}`,
  );
  const psnrGain =
    fw.next_frame.model.psnr === null || fw.next_frame.copy_last.psnr === null
      ? null
      : fw.next_frame.model.psnr - fw.next_frame.copy_last.psnr;
  lines.push(
    `PSNR (frame-weighted): model ${fmt(fw.next_frame.model.psnr, 2)} dB vs copy-last ` +
      `${fmt(fw.next_frame.copy_last.psnr, 2)} dB, margin ${signed(psnrGain, 2)} dB`,
  );
  for (const s of report.skipped) lines.push(`skipped ${s.id}: ${s.reason}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
