/// <reference lib="dom" />
/**
 * The page script of the live dashboard and the static report (page.ts inlines it). It reads
 * the page data from <script id="sm-data">, draws the curves on canvas and the preview strips
 * with their mask overlays, and — on a live page — applies the server's /events stream.
 * Imports are types only, so the emitted script imports nothing; the lib reference above gives
 * this file the browser's types.
 */
import type { MetricRecord } from "../../runs/run-record.js";
import type { ChartSeries, ChartSpec, PageData, SampleStrip, ServerMessage } from "../page-data.js";
import type { StoredPreview } from "../preview-store.js";
import type { RunView } from "../run-view.js";

// 1. Constants ----------------------------------------------------------------------------

const RUN_COLORS = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777"];
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
const VAL_COLOR = "#dc2626";
/** The mask overlay colour (also --overlay in the page CSS): cyan reads well on red tissue and grey. */
const OVERLAY: [number, number, number] = [0, 229, 255];
const OVERLAY_ALPHA = 0.55;
const PREVIEWS_KEPT = 20;
/** Live pages redraw at most this often (a fast run sends many steps per second). */
const RENDER_EVERY_MS = 250;
const PAD = { left: 58, right: 14, top: 10, bottom: 30 };

// 2. Page state ---------------------------------------------------------------------------

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el as T;
}

const data = JSON.parse(byId("sm-data").textContent ?? "{}") as PageData;
const ui = {
  smoothing: 0.6,
  logY: false,
  /** run index -> the preview step picked with the slider; absent = follow the newest. */
  previewPick: new Map<number, number>(),
  updates: 0,
};

/** A line as the page draws it. */
interface Line extends ChartSeries {
  /** Smoothed with the page's EMA setting (training curves; never validation). */
  smooth?: boolean;
  markers?: boolean;
}

interface ChartModel extends ChartSpec {
  key: string;
  wide?: boolean;
  /** The "log scale" switch applies to this chart. */
  logAllowed?: boolean;
  series: Line[];
}

/**
 * Same rule as run-view.ts `appendMetric`: a restarted trainer re-runs the steps after its
 * checkpoint, so a train row at step s drops train and val rows at steps >= s, a val row drops
 * val rows at steps >= s.
 */
function appendMetric(rows: MetricRecord[], row: MetricRecord): void {
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

// 3. Which charts, from the runs' metric rows -----------------------------------------------

function seriesOf(rows: MetricRecord[], kind: string, field: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of rows) {
    const v = r[field];
    if ((r.kind ?? "train") === kind && typeof v === "number" && Number.isFinite(v)) out.push([r.step, v]);
  }
  return out;
}

function lossTerms(runs: RunView[]): string[] {
  const any = (pred: (m: MetricRecord) => boolean) => runs.some((r) => r.metrics.some(pred));
  const terms = ["total", "image", "mask_first", "mask_second"];
  if (any((m) => typeof m.adv === "number" && m.adv !== 0)) terms.push("adv");
  if (any((m) => typeof m.d_loss === "number")) terms.push("d_loss");
  return terms;
}

function metricCharts(runs: RunView[]): ChartModel[] {
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

// 4. Drawing a chart ------------------------------------------------------------------------

/** TensorBoard's debiased exponential moving average. */
function smooth(points: Array<[number, number]>, weight: number): Array<[number, number]> {
  if (weight <= 0) return points;
  let last = 0;
  let debias = 0;
  return points.map(([x, y]) => {
    last = last * weight + (1 - weight) * y;
    debias = debias * weight + (1 - weight);
    return [x, last / debias];
  });
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return Number(v.toPrecision(3)).toExponential(); // 5e-4, 1.25e-5
  return String(Number(v.toPrecision(4)));
}

interface Prepared {
  line: Line;
  raw: Array<[number, number]>;
  shown: Array<[number, number]>;
}

interface HoverRow {
  color: string;
  label: string;
  value: number;
}

interface Hover {
  x: number;
  rows: HoverRow[];
}

/** Index of the point whose x is nearest to `x` (points sorted by x). */
function nearest(points: Array<[number, number]>, x: number): number {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1][0] - x) <= Math.abs(points[lo][0] - x)) return lo - 1;
  return lo;
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

function drawEmpty(ctx: CanvasRenderingContext2D, w: number, h: number): void {
  ctx.fillStyle = "#9ca3af";
  ctx.font = "italic 13px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(data.mode === "live" ? "waiting for data…" : "no data", w / 2, h / 2);
}

/** Draws a line chart; with `hoverPx` also the crosshair, and returns what the tooltip lists. */
function drawLineChart(canvas: HTMLCanvasElement, model: ChartModel, hoverPx: number | null): Hover | null {
  const { ctx, w, h } = setupCanvas(canvas);
  const logY = ui.logY && Boolean(model.logAllowed);
  const prepared: Prepared[] = model.series.map((line) => {
    let raw = line.points ?? [];
    if (logY) raw = raw.filter(([, y]) => y > 0).map(([x, y]) => [x, Math.log10(y)]);
    const shown = line.smooth ? smooth(raw, ui.smoothing) : raw;
    return { line, raw, shown };
  });
  const all = prepared.flatMap((p) => (p.shown === p.raw ? p.raw : [...p.raw, ...p.shown]));
  if (!all.length) {
    drawEmpty(ctx, w, h);
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
    if (p.shown !== p.raw && ui.smoothing > 0) {
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
function drawBarChart(canvas: HTMLCanvasElement, model: ChartModel, hoverPx: number | null): Hover | null {
  const { ctx, w, h } = setupCanvas(canvas);
  const categories = model.categories ?? [];
  const values = model.series.flatMap((s) =>
    (s.values ?? []).filter((v): v is number => typeof v === "number"),
  );
  if (!categories.length || !values.length) {
    drawEmpty(ctx, w, h);
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

// 5. Chart cards ------------------------------------------------------------------------------

const tooltip = byId("tooltip");

class ChartCard {
  readonly root = document.createElement("div");
  private readonly legend = document.createElement("div");
  private readonly canvas = document.createElement("canvas");
  private hoverPx: number | null = null;
  private mouse = { x: 0, y: 0 };

  constructor(private model: ChartModel) {
    this.root.className = `chart${model.wide ? " wide" : ""}`;
    const title = document.createElement("h4");
    title.textContent = model.title;
    this.legend.className = "legend";
    this.canvas.dataset.chart = model.key;
    this.root.append(title, this.legend, this.canvas);
    this.canvas.addEventListener("mousemove", (e) => {
      this.hoverPx = e.offsetX;
      this.mouse = { x: e.clientX, y: e.clientY };
      this.draw();
    });
    this.canvas.addEventListener("mouseleave", () => {
      this.hoverPx = null;
      tooltip.hidden = true;
      this.draw();
    });
  }

  update(model: ChartModel): void {
    this.model = model;
    this.draw();
  }

  draw(): void {
    this.legend.replaceChildren(
      ...this.model.series
        .filter((s) => (s.points?.length ?? 0) > 0 || (s.values?.length ?? 0) > 0)
        .map((s, k) => legendKey(s.label, s.color ?? RUN_COLORS[k % RUN_COLORS.length], Boolean(s.dashed))),
    );
    const draw = this.model.kind === "bars" ? drawBarChart : drawLineChart;
    const hover = draw(this.canvas, this.model, this.hoverPx);
    if (this.hoverPx === null) return;
    if (!hover?.rows.length) {
      tooltip.hidden = true;
      return;
    }
    const head = this.model.kind === "bars" ? (this.model.categories?.[hover.x] ?? "") : `step ${hover.x}`;
    tooltip.replaceChildren(el("b", head));
    for (const row of hover.rows) {
      const line = document.createElement("div");
      const swatch = document.createElement("i");
      swatch.style.background = row.color;
      line.append(swatch, `${row.label}: ${fmt(row.value)}`);
      tooltip.append(line);
    }
    tooltip.hidden = false;
    const box = tooltip.getBoundingClientRect();
    const left =
      this.mouse.x + 14 + box.width > window.innerWidth ? this.mouse.x - box.width - 14 : this.mouse.x + 14;
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${Math.max(4, this.mouse.y - box.height / 2)}px`;
  }
}

function el(tag: string, text: string): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

function legendKey(label: string, color: string, dashed: boolean): HTMLElement {
  const key = document.createElement("span");
  key.className = "key";
  const swatch = document.createElement("i");
  swatch.style.borderColor = color;
  if (dashed) swatch.className = "dashed";
  key.append(swatch, label);
  return key;
}

/** Keeps one card per chart key in `container`, creating and dropping cards as the set changes. */
function syncCharts(container: HTMLElement, cards: Map<string, ChartCard>, models: ChartModel[]): void {
  const keys = new Set(models.map((m) => m.key));
  for (const [key, card] of cards) {
    if (!keys.has(key)) {
      card.root.remove();
      cards.delete(key);
    }
  }
  models.forEach((model, i) => {
    let card = cards.get(model.key);
    if (!card) {
      card = new ChartCard(model);
      cards.set(model.key, card);
    }
    if (container.children[i] !== card.root) container.insertBefore(card.root, container.children[i] ?? null);
    card.update(model);
  });
}

// 6. Preview strips ---------------------------------------------------------------------------

const decoded = new WeakMap<object, { images: Uint8Array; masks: Uint8Array }>();

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Draws N frames side by side in three rows: the predicted frames, the predicted masks (grey),
 * and the frames with the mask blended in the overlay colour (alpha = 0.55 * mask) and its 0.5
 * contour drawn solid. Pixels are upscaled by an integer factor (nearest neighbour).
 */
function drawStrip(canvas: HTMLCanvasElement, strip: SampleStrip | StoredPreview): void {
  let bytes = decoded.get(strip);
  if (!bytes) {
    bytes = { images: base64Bytes(strip.images), masks: base64Bytes(strip.masks) };
    decoded.set(strip, bytes);
  }
  const [n, c, h, w] = strip.imageShape; // [N, C, H, W]
  const scale = Math.max(1, Math.min(8, Math.floor(128 / Math.max(h, w))));
  const gap = 6;
  const tw = w * scale;
  const th = h * scale;
  canvas.width = n * tw + (n - 1) * gap;
  canvas.height = 3 * th + 2 * gap;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const out = ctx.createImageData(canvas.width, canvas.height);
  const { images, masks } = bytes;
  const maskAt = (k: number, sy: number, sx: number) =>
    sy < 0 || sx < 0 || sy >= th || sx >= tw
      ? 0
      : masks[k * h * w + Math.floor(sy / scale) * w + Math.floor(sx / scale)];
  for (let k = 0; k < n; k++) {
    for (let sy = 0; sy < th; sy++) {
      for (let sx = 0; sx < tw; sx++) {
        const y = Math.floor(sy / scale);
        const x = Math.floor(sx / scale);
        const base = k * c * h * w + y * w + x;
        const r = images[base];
        const g = c === 3 ? images[base + h * w] : r;
        const b = c === 3 ? images[base + 2 * h * w] : r;
        const m = maskAt(k, sy, sx);
        const inside = m >= 128;
        const edge =
          inside &&
          (maskAt(k, sy - 1, sx) < 128 ||
            maskAt(k, sy + 1, sx) < 128 ||
            maskAt(k, sy, sx - 1) < 128 ||
            maskAt(k, sy, sx + 1) < 128);
        const a = edge ? 1 : (OVERLAY_ALPHA * m) / 255;
        const col = k * (tw + gap) + sx;
        const row = (i: number) => ((sy + i * (th + gap)) * canvas.width + col) * 4;
        out.data.set([r, g, b, 255], row(0));
        out.data.set([m, m, m, 255], row(1));
        out.data.set(
          [r + (OVERLAY[0] - r) * a, g + (OVERLAY[1] - g) * a, b + (OVERLAY[2] - b) * a, 255].map(Math.round),
          row(2),
        );
      }
    }
  }
  ctx.putImageData(out, 0, 0);
}

function stripCard(
  title: string,
  canvasId: string,
): { root: HTMLElement; head: HTMLElement; canvas: HTMLCanvasElement } {
  const root = document.createElement("div");
  root.className = "strip";
  const head = document.createElement("div");
  head.className = "strip-head";
  head.append(el("b", title));
  const canvas = document.createElement("canvas");
  canvas.dataset.strip = canvasId;
  root.append(head, canvas);
  return { root, head, canvas };
}

interface PreviewCard {
  root: HTMLElement;
  label: HTMLElement;
  slider: HTMLInputElement;
  canvas: HTMLCanvasElement;
  drawn?: StoredPreview;
}

const previewCards: PreviewCard[] = [];

function renderPreviews(): void {
  const container = byId("previews");
  data.runs.forEach((run, r) => {
    let card = previewCards[r];
    if (!card) {
      const { root, head, canvas } = stripCard(
        data.runs.length > 1 ? run.name : "Latest preview",
        `run-${r}`,
      );
      const slider = document.createElement("input");
      slider.type = "range";
      slider.min = "0";
      slider.step = "1";
      slider.title = "browse the stored previews; far right follows the newest";
      const label = document.createElement("span");
      label.className = "muted";
      head.append(slider, label);
      card = { root, label, slider, canvas };
      previewCards[r] = card;
      container.append(root);
      slider.addEventListener("input", () => {
        const previews = data.runs[r].previews;
        const i = Number(slider.value);
        if (i >= previews.length - 1) ui.previewPick.delete(r);
        else ui.previewPick.set(r, previews[i].step);
        renderPreviews();
      });
    }
    const previews = run.previews;
    card.slider.hidden = previews.length < 2;
    if (!previews.length) {
      card.label.textContent = "no preview yet (the trainer sends one every log.preview_every_n_steps)";
      card.canvas.hidden = true;
      return;
    }
    const picked = ui.previewPick.get(r);
    let index = previews.length - 1;
    if (picked !== undefined) {
      const found = previews.findIndex((p) => p.step === picked);
      if (found >= 0) index = found;
    }
    const preview = previews[index];
    card.slider.max = String(previews.length - 1);
    card.slider.value = String(index);
    const [n, , h, w] = preview.imageShape;
    const newest = index === previews.length - 1 ? "newest" : `${index + 1} of ${previews.length}`;
    card.label.textContent = `step ${preview.step} · ${n} frames · ${w}×${h} · ${newest}`;
    card.canvas.hidden = false;
    if (card.drawn !== preview) drawStrip(card.canvas, preview);
    card.drawn = preview;
  });
  while (previewCards.length > data.runs.length) previewCards.pop()?.root.remove();
}

// 7. Report sections --------------------------------------------------------------------------

/** One map of chart cards per section (syncCharts drops the cards a map does not list). */
const sectionCards: Array<Map<string, ChartCard>> = [];

function renderSections(): void {
  data.sections.forEach((section, i) => {
    const charts = document.querySelector<HTMLElement>(`.section-charts[data-section="${i}"]`);
    if (charts && section.charts?.length) {
      const models: ChartModel[] = section.charts.map((spec, k) => ({
        ...spec,
        key: `section-${i}-${k}`,
        series: spec.series.map((s, j) => ({ ...s, color: s.color ?? RUN_COLORS[j % RUN_COLORS.length] })),
      }));
      sectionCards[i] ??= new Map();
      syncCharts(charts, sectionCards[i], models);
    }
    const strips = document.querySelector<HTMLElement>(`.section-strips[data-section="${i}"]`);
    if (strips && section.strips?.length && !strips.children.length) {
      section.strips.forEach((strip, k) => {
        const { root, canvas } = stripCard(strip.label, `section-${i}-${k}`);
        strips.append(root);
        drawStrip(canvas, strip);
      });
    }
  });
}

// 8. Status line ------------------------------------------------------------------------------

function renderStatus(): void {
  const box = byId("run-status");
  box.replaceChildren(
    ...data.runs.map((run, r) => {
      const lastTrain = run.metrics.reduce(
        (m, x) => ((x.kind ?? "train") === "train" ? Math.max(m, x.step) : m),
        0,
      );
      const step = Math.max(run.status.step, lastTrain);
      const max = run.status.maxSteps;
      const pill = document.createElement("span");
      pill.className = "pill";
      pill.dataset.state = run.status.state;
      pill.dataset.lastStep = String(step);
      pill.title = run.runDir;
      const dot = document.createElement("span");
      dot.className = "dot";
      if (data.runs.length > 1) dot.style.background = RUN_COLORS[r % RUN_COLORS.length];
      const state =
        run.status.reason && run.status.state !== "running" ? run.status.reason : run.status.state;
      pill.append(dot, el("b", run.name), ` ${state} · step ${step}${max ? ` / ${max}` : ""}`);
      if (max) {
        const bar = document.createElement("span");
        bar.className = "bar";
        const fill = document.createElement("span");
        fill.style.width = `${Math.min(100, (100 * step) / max)}%`;
        bar.append(fill);
        pill.append(bar);
      }
      return pill;
    }),
  );
  const legend = byId("run-legend");
  legend.replaceChildren(
    ...(data.runs.length > 1
      ? [
          ...data.runs.map((run, r) => legendKey(run.name, RUN_COLORS[r % RUN_COLORS.length], false)),
          legendKey("train (solid)", "#6b7280", false),
          legendKey("validation (dashed)", "#6b7280", true),
        ]
      : []),
  );
}

// 9. Rendering and live updates -----------------------------------------------------------

const metricCards = new Map<string, ChartCard>();
let pending = false;

function render(): void {
  pending = false;
  lastRender = performance.now();
  renderStatus();
  syncCharts(byId("charts"), metricCards, metricCharts(data.runs));
  renderPreviews();
  renderSections();
  document.body.dataset.updates = String(ui.updates);
  document.body.dataset.rendered = "true";
}

let lastRender = 0;

/** Coalesces updates: at most one render per frame and per RENDER_EVERY_MS, to spare the CPU. */
function scheduleRender(): void {
  if (pending) return;
  pending = true;
  const wait = Math.max(0, lastRender + RENDER_EVERY_MS - performance.now());
  setTimeout(() => requestAnimationFrame(render), wait);
}

function apply(message: ServerMessage): void {
  ui.updates++;
  switch (message.type) {
    case "snapshot":
      data.runs = message.runs;
      break;
    case "run":
      data.runs[message.run] = message.view;
      break;
    case "metric":
      appendMetric(data.runs[message.run].metrics, message.record);
      break;
    case "preview": {
      const run = data.runs[message.run];
      run.previews = [...run.previews.filter((p) => p.step !== message.preview.step), message.preview]
        .sort((a, b) => a.step - b.step)
        .slice(-PREVIEWS_KEPT);
      break;
    }
    case "status":
      data.runs[message.run].status = message.status;
      break;
    case "info":
      replaceInfo(message.html);
      break;
  }
  scheduleRender();
}

/** New run info from the server; the raw-file <details> the reader opened stay open. */
function replaceInfo(html: string): void {
  const box = byId("run-info");
  const open = Array.from(box.querySelectorAll("details"), (d) => d.open);
  box.innerHTML = html;
  box.querySelectorAll("details").forEach((d, i) => {
    d.open = open[i] ?? false;
  });
}

function connect(): void {
  const connection = byId("connection");
  const events = new EventSource("events");
  const types: Array<ServerMessage["type"]> = ["snapshot", "run", "metric", "preview", "status", "info"];
  for (const type of types) {
    events.addEventListener(type, (e) =>
      apply({ type, ...JSON.parse((e as MessageEvent<string>).data) } as ServerMessage),
    );
  }
  events.addEventListener("open", () => {
    connection.dataset.ok = "true";
    connection.textContent = "live";
  });
  events.addEventListener("error", () => {
    connection.dataset.ok = "false";
    const ended = data.runs.every((r) => r.status.state !== "running");
    connection.textContent = ended ? "dashboard closed · the data above is final" : "reconnecting…";
  });
}

function setupToolbar(): void {
  const smoothing = byId<HTMLInputElement>("smoothing");
  const value = byId<HTMLOutputElement>("smoothing-value");
  const logY = byId<HTMLInputElement>("log-y");
  smoothing.addEventListener("input", () => {
    ui.smoothing = Number(smoothing.value);
    value.textContent = ui.smoothing.toFixed(2);
    scheduleRender();
  });
  logY.addEventListener("change", () => {
    ui.logY = logY.checked;
    scheduleRender();
  });
  ui.smoothing = Number(smoothing.value);
}

setupToolbar();
render();
new ResizeObserver(() => scheduleRender()).observe(byId("charts"));
if (data.mode === "live") connect();
