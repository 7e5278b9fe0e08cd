/// <reference lib="dom" />
/** Draws line and bar charts on a canvas; returns what a hover tooltip lists. No page state. */
import { fmt, nearest, niceTicks, smooth } from "./chart-math.js";
import { type ChartModel, type Line, RUN_COLORS } from "./chart-model.js";

const PAD = { left: 58, right: 14, top: 10, bottom: 30 };

/** The page's settings a chart is drawn with. */
export interface ChartView {
  logY: boolean;
  smoothing: number;
  /** Shown in an empty chart ("waiting for data…" on a live page). */
  emptyText: string;
}

interface Prepared {
  line: Line;
  raw: Array<[number, number]>;
  shown: Array<[number, number]>;
}

export interface HoverRow {
  color: string;
  label: string;
  value: number;
}

export interface Hover {
  x: number;
  rows: HoverRow[];
}

/** The polyline, at most two vertices per pixel column (min and max) so huge runs stay fast. */
function tracePath(
  ctx: CanvasRenderingContext2D,
  pts: Array<[number, number]>,
  px: (x: number) => number,
  py: (y: number) => number,
) {
  ctx.beginPath();
  if (pts.length <= 4000) {
    for (const [i, [x, y]] of pts.entries()) {
      if (i) ctx.lineTo(px(x), py(y));
      else ctx.moveTo(px(x), py(y));
    }
    return;
  }
  let column = Number.NaN;
  let min = 0;
  let max = 0;
  let first = true;
  const flush = () => {
    if (Number.isNaN(column)) return;
    if (first) ctx.moveTo(column, py(min));
    else ctx.lineTo(column, py(min));
    ctx.lineTo(column, py(max));
    first = false;
  };
  for (const [x, y] of pts) {
    const c = Math.round(px(x));
    if (c !== column) {
      flush();
      column = c;
      min = y;
      max = y;
    } else {
      min = Math.min(min, y);
      max = Math.max(max, y);
    }
  }
  flush();
}

function setupCanvas(canvas: HTMLCanvasElement): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const rect = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(50, Math.round(rect.width));
  const h = Math.max(50, Math.round(rect.height));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("no 2d canvas context");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

function drawAxes(
  ctx: CanvasRenderingContext2D,
  w: number,
  h: number,
  yTicks: number[],
  py: (y: number) => number,
  tickLabel: (v: number) => string,
  axisLabel?: string,
): void {
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#6b7280";
  ctx.strokeStyle = "#eef0f3";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of yTicks) {
    const y = Math.round(py(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(PAD.left, y);
    ctx.lineTo(w - PAD.right, y);
    ctx.stroke();
    ctx.fillText(tickLabel(t), PAD.left - 6, y);
  }
  if (axisLabel) {
    ctx.save();
    ctx.translate(10, PAD.top + (h - PAD.top - PAD.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText(axisLabel, 0, 0);
    ctx.restore();
  }
  ctx.strokeStyle = "#c7ccd4";
  ctx.beginPath();
  ctx.moveTo(PAD.left + 0.5, PAD.top);
  ctx.lineTo(PAD.left + 0.5, h - PAD.bottom + 0.5);
  ctx.lineTo(w - PAD.right, h - PAD.bottom + 0.5);
  ctx.stroke();
}

function drawEmpty(ctx: CanvasRenderingContext2D, w: number, h: number, text: string): void {
  ctx.fillStyle = "#9ca3af";
  ctx.font = "italic 13px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, w / 2, h / 2);
}

/** Draws a line chart; with `hoverPx` also the crosshair, and returns what the tooltip lists. */
export function drawLineChart(
  canvas: HTMLCanvasElement,
  model: ChartModel,
  hoverPx: number | null,
  view: ChartView,
): Hover | null {
  const { ctx, w, h } = setupCanvas(canvas);
  const logY = view.logY && Boolean(model.logAllowed);
  const prepared: Prepared[] = model.series.map((line) => {
    let raw = line.points ?? [];
    if (logY) raw = raw.filter(([, y]) => y > 0).map(([x, y]) => [x, Math.log10(y)]);
    const shown = line.smooth ? smooth(raw, view.smoothing) : raw;
    return { line, raw, shown };
  });
  const all = prepared.flatMap((p) => (p.shown === p.raw ? p.raw : [...p.raw, ...p.shown]));
  if (!all.length) {
    drawEmpty(ctx, w, h, view.emptyText);
    return null;
  }
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of all) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 - y0 <= Math.abs(y1) * 1e-6) {
    // A constant curve (e.g. a constant lr): show it against zero, not zoomed into rounding noise.
    [y0, y1] = logY ? [y0 - 0.5, y1 + 0.5] : [Math.min(0, y0), Math.max(0, y1) * 1.25 || 1];
  }
  const ySpan = y1 - y0;
  y0 -= ySpan * 0.06;
  y1 += ySpan * 0.06;
  const plotW = w - PAD.left - PAD.right;
  const plotH = h - PAD.top - PAD.bottom;
  const px = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => PAD.top + (1 - (y - y0) / (y1 - y0)) * plotH;

  const yTicks = niceTicks(y0, y1, Math.max(2, Math.floor(plotH / 40)));
  drawAxes(ctx, w, h, yTicks, py, (v) => (logY ? fmt(10 ** v) : fmt(v)), model.yLabel);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(x0, x1, Math.max(2, Math.floor(plotW / 90))))
    ctx.fillText(fmt(t), px(t), h - PAD.bottom + 6);

  ctx.save();
  ctx.beginPath();
  ctx.rect(PAD.left, PAD.top - 2, plotW + 2, plotH + 4);
  ctx.clip();
  ctx.lineJoin = "round";
  for (const p of prepared) {
    const color = p.line.color ?? "#111827";
    ctx.strokeStyle = color;
    ctx.setLineDash(p.line.dashed ? [6, 4] : []);
    if (p.shown !== p.raw && view.smoothing > 0) {
      ctx.globalAlpha = 0.22; // the raw curve stays visible behind the smoothed one
      ctx.lineWidth = 1;
      tracePath(ctx, p.raw, px, py);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.lineWidth = 1.8;
    tracePath(ctx, p.shown, px, py);
    ctx.stroke();
    if (p.line.markers && p.shown.length <= 300) {
      ctx.setLineDash([]);
      ctx.fillStyle = color;
      for (const [x, y] of p.shown) {
        ctx.beginPath();
        ctx.arc(px(x), py(y), 2.6, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
  ctx.setLineDash([]);
  ctx.restore();

  if (hoverPx === null || hoverPx < PAD.left || hoverPx > w - PAD.right) return null;
  const xAt = x0 + ((hoverPx - PAD.left) / plotW) * (x1 - x0);
  const withPoints = prepared.filter((p) => p.shown.length);
  // Snap to the step of the nearest point among all lines.
  let snap = withPoints[0].shown[nearest(withPoints[0].shown, xAt)][0];
  for (const p of withPoints) {
    const cand = p.shown[nearest(p.shown, xAt)][0];
    if (Math.abs(cand - xAt) < Math.abs(snap - xAt)) snap = cand;
  }
  ctx.strokeStyle = "rgba(17,24,39,.35)";
  ctx.beginPath();
  ctx.moveTo(Math.round(px(snap)) + 0.5, PAD.top);
  ctx.lineTo(Math.round(px(snap)) + 0.5, h - PAD.bottom);
  ctx.stroke();
  const rows: HoverRow[] = [];
  for (const p of withPoints) {
    const i = nearest(p.shown, snap);
    if (p.shown[i][0] !== snap) continue;
    const [x, y] = p.shown[i];
    ctx.fillStyle = p.line.color ?? "#111827";
    ctx.beginPath();
    ctx.arc(px(x), py(y), 3.5, 0, 2 * Math.PI);
    ctx.fill();
    rows.push({ color: p.line.color ?? "#111827", label: p.line.label, value: logY ? 10 ** y : y });
  }
  return { x: snap, rows };
}

/** Grouped bars over categories (report sections, e.g. per-video Dice beside baselines). */
export function drawBarChart(
  canvas: HTMLCanvasElement,
  model: ChartModel,
  hoverPx: number | null,
  view: ChartView,
): Hover | null {
  const { ctx, w, h } = setupCanvas(canvas);
  const categories = model.categories ?? [];
  const values = model.series.flatMap((s) =>
    (s.values ?? []).filter((v): v is number => typeof v === "number"),
  );
  if (!categories.length || !values.length) {
    drawEmpty(ctx, w, h, view.emptyText);
    return null;
  }
  const y0 = Math.min(0, ...values);
  const y1 = Math.max(...values) * 1.08 || 1;
  const plotW = w - PAD.left - PAD.right;
  const plotH = h - PAD.top - PAD.bottom;
  const py = (y: number) => PAD.top + (1 - (y - y0) / (y1 - y0)) * plotH;
  drawAxes(ctx, w, h, niceTicks(y0, y1, Math.max(2, Math.floor(plotH / 40))), py, fmt, model.yLabel);
  const slot = plotW / categories.length;
  const barW = (slot * 0.75) / model.series.length;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  categories.forEach((name, c) => {
    ctx.fillStyle = "#6b7280";
    ctx.fillText(name, PAD.left + slot * (c + 0.5), h - PAD.bottom + 6, slot - 2);
    model.series.forEach((s, k) => {
      const v = s.values?.[c];
      if (typeof v !== "number") return;
      ctx.fillStyle = s.color ?? RUN_COLORS[k % RUN_COLORS.length];
      const x = PAD.left + slot * c + slot * 0.125 + k * barW;
      ctx.fillRect(x, Math.min(py(v), py(0)), Math.max(1, barW - 1), Math.abs(py(0) - py(v)));
    });
  });
  if (hoverPx === null || hoverPx < PAD.left || hoverPx > w - PAD.right) return null;
  const c = Math.min(categories.length - 1, Math.floor((hoverPx - PAD.left) / slot));
  const rows = model.series.flatMap((s, k) => {
    const v = s.values?.[c];
    return typeof v === "number"
      ? [{ color: s.color ?? RUN_COLORS[k % RUN_COLORS.length], label: s.label, value: v }]
      : [];
  });
  return { x: c, rows };
}
