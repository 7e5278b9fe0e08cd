/// <reference lib="dom" />
/**
 * The page script of the live dashboard and the static report: the views (chart cards, preview
 * strips, report sections, status line) and the live updates. It reads the page data from
 * <script id="sm-data">, and on a live page applies the server's /events stream. Bundled with
 * its imports into one script at build time (tools/build/bundle-page-script.mjs); page.ts inlines it.
 */
import { appendMetric } from "../metric-rows.js";
import type { PageData, ServerMessage } from "../page-data.js";
import type { StoredPreview } from "../preview-store.js";
import { fmt } from "./chart-math.js";
import { type ChartModel, metricCharts, RUN_COLORS } from "./chart-model.js";
import { type ChartView, drawBarChart, drawLineChart } from "./draw-chart.js";
import { drawStrip } from "./strips.js";

const PREVIEWS_KEPT = 20;
/** Live pages redraw at most this often (a fast run sends many steps per second). */
const RENDER_EVERY_MS = 250;

// 1. Page state ---------------------------------------------------------------------------

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

/** What the charts are drawn with now. */
function chartView(): ChartView {
  return {
    logY: ui.logY,
    smoothing: ui.smoothing,
    emptyText: data.mode === "live" ? "waiting for data…" : "no data",
  };
}

// 2. Chart cards ------------------------------------------------------------------------------

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
    const hover = draw(this.canvas, this.model, this.hoverPx, chartView());
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

// 3. Preview strips ---------------------------------------------------------------------------

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

// 4. Report sections --------------------------------------------------------------------------

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

// 5. Status line ------------------------------------------------------------------------------

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

// 6. Rendering and live updates -----------------------------------------------------------

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
