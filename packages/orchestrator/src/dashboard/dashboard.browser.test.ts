/**
 * End to end in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * a tiny real training with the live dashboard on, the static report it leaves, and a compare
 * dashboard over two run directories. The checks read canvas pixels, so they prove that the
 * curves and the previews are really drawn; screenshots stay in the test's temp folder.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSyntheticDataset, tempDir, tinyConfig } from "../../test/helpers.js";
import { train } from "../commands/train.js";
import { readMetrics } from "../runs/run-record.js";
import { reportPath, sampleStrip, saveReportSection, writeReport } from "./report.js";
import { TailRunSource } from "./run-source.js";
import { startDashboard } from "./server.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let root: string;
let dataset: string;
let browser: BrowserContext;
let runA: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the dashboard tests need Debian's Chromium at ${CHROMIUM} (apt-get install chromium)`);
  }
  root = tempDir("dashboard-e2e");
  dataset = makeSyntheticDataset(root, 3, 8, 32);
  browser = await chromium.launchPersistentContext(mkdtempSync(join(root, "chromium-profile-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  await browser?.close();
});

function config(name: string, maxSteps: number, lr: number): string {
  const cfg = tinyConfig(dataset, maxSteps, {
    name,
    data: { dataset, size: 32, clip_len: 3, batch_size: 2, val_fraction: 0.34 },
    train: { seed: 0, lr },
    val: { every_n_steps: 10 },
    log: { every_n_steps: 1, preview_every_n_steps: 5 },
  });
  const path = join(root, `${name}.json`);
  writeFileSync(path, JSON.stringify(cfg));
  return path;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function openWhenUp(page: Page, url: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await page.goto(url);
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface CanvasStats {
  width: number;
  height: number;
  /** Pixels drawn (alpha >= 100; the chart background is transparent). */
  ink: number;
  /** Pixels within a small distance of each asked colour. */
  colors: Record<string, number>;
}

/** Counts drawn pixels, and pixels of given colours, on a chart canvas. */
function chartStats(page: Page, selector: string, colors: Record<string, string>): Promise<CanvasStats> {
  return page.evaluate(
    ({ selector, colors }) => {
      const canvas = document.querySelector(selector) as HTMLCanvasElement | null;
      if (!canvas) throw new Error(`no canvas ${selector}`);
      const { data } = (canvas.getContext("2d") as CanvasRenderingContext2D).getImageData(
        0,
        0,
        canvas.width,
        canvas.height,
      );
      const wanted = Object.entries(colors).map(
        ([name, hex]) => [name, [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16))] as const,
      );
      const counts: Record<string, number> = Object.fromEntries(wanted.map(([name]) => [name, 0]));
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < 100) continue; // the antialiased edges of thin lines are translucent
        ink++;
        for (const [name, [r, g, b]] of wanted) {
          if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60)
            counts[name]++;
        }
      }
      return { width: canvas.width, height: canvas.height, ink, colors: counts };
    },
    { selector, colors },
  );
}

interface StripStats {
  width: number;
  height: number;
  /** Distinct colours in the frames row (a flat image has one). */
  distinctTop: number;
  /** Overlay-row pixels tinted by the cyan overlay (g and b clearly above r). */
  overlayBottom: number;
}

/** Reads a preview strip canvas: rows frames / masks / overlay, one third of the height each. */
function stripStats(page: Page, selector: string): Promise<StripStats> {
  return page.evaluate((selector) => {
    const canvas = document.querySelector(selector) as HTMLCanvasElement | null;
    if (!canvas) throw new Error(`no canvas ${selector}`);
    const { width, height } = canvas;
    const { data } = (canvas.getContext("2d") as CanvasRenderingContext2D).getImageData(0, 0, width, height);
    const rowHeight = Math.floor(height / 3);
    const distinct = new Set<number>();
    let overlayBottom = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
        if (a < 255) continue; // the gaps between tiles
        if (y < rowHeight) {
          distinct.add((r << 16) | (g << 8) | b);
        } else if (y >= height - rowHeight && g > r + 40 && b > r + 40) {
          overlayBottom++;
        }
      }
    }
    return { width, height, distinctTop: distinct.size, overlayBottom };
  }, selector);
}

const TERM_COLORS = {
  total: "#111827",
  image: "#2563eb",
  mask_first: "#f97316",
  mask_second: "#16a34a",
  val: "#dc2626",
};

async function expectCurvesAndPreviews(page: Page, shot: string): Promise<void> {
  await page.screenshot({ path: join(root, shot), fullPage: true });
  const losses = await chartStats(page, 'canvas[data-chart="losses"]', TERM_COLORS);
  expect(losses.width).toBeGreaterThan(300);
  expect(losses.ink).toBeGreaterThan(2000);
  for (const [term, count] of Object.entries(losses.colors)) {
    // validation has a point every 10 steps: a few dashes and markers mid-run
    expect(count, `${term} curve pixels`).toBeGreaterThan(term === "val" ? 10 : 40);
  }
  for (const key of ["total", "image", "mask_first", "mask_second", "lr", "throughput"]) {
    const chart = await chartStats(page, `canvas[data-chart="${key}"]`, {});
    expect(chart.ink, `${key} chart`).toBeGreaterThan(800);
  }
  const strip = await stripStats(page, 'canvas[data-strip="run-0"]');
  expect(strip.width).toBeGreaterThanOrEqual(4 * 128); // 4 frames of 32 px, upscaled x4
  expect(strip.distinctTop).toBeGreaterThan(50);
  expect(strip.overlayBottom).toBeGreaterThan(500);
  expect(await page.locator(".card h2").allTextContents()).toEqual(
    expect.arrayContaining(["Training curves", "Predicted frames", "Run info"]),
  );
}

describe("dashboard and report in Chromium", () => {
  it("follows a real training live: curves and preview strips render and update as steps arrive", async () => {
    runA = join(root, "run-a");
    const port = await freePort();
    const training = train({
      config: config("run-a", 30, 1e-3),
      runDir: runA,
      dashboard: String(port),
      progress: false,
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await openWhenUp(page, `http://127.0.0.1:${port}/`);
    await page.waitForSelector("body[data-rendered=true]");
    const firstStep = Number(await page.locator(".pill").getAttribute("data-last-step"));

    // Live: the page only gets steps over /events from here on.
    await page.waitForFunction(
      () => {
        const step = Number(document.querySelector(".pill")?.getAttribute("data-last-step"));
        const strip = document.querySelector('canvas[data-strip="run-0"]') as HTMLCanvasElement | null;
        return step >= 20 && strip !== null && !strip.hidden;
      },
      undefined,
      { timeout: 40_000 },
    );
    const liveStep = Number(await page.locator(".pill").getAttribute("data-last-step"));
    expect(liveStep).toBeGreaterThan(firstStep);
    expect(Number(await page.locator("body").getAttribute("data-updates"))).toBeGreaterThan(10);
    await expect(page.locator("#connection").textContent()).resolves.toBe("live");
    await page.mouse.move(0, 0);
    const box = await page.locator('canvas[data-chart="losses"]').boundingBox();
    if (box) await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.4); // tooltip in the shot
    await expectCurvesAndPreviews(page, "live.png");
    await expect(page.locator("#tooltip").textContent()).resolves.toMatch(/^step \d+.*total: /);

    const outcome = await training;
    expect(outcome.reason).toBe("max_steps");
    await page.waitForSelector('.pill[data-state="finished"][data-last-step="30"]', { timeout: 10_000 });
    expect(existsSync(join(runA, "previews", "step-00000030.json"))).toBe(true);
    expect(existsSync(reportPath(runA))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("renders the static report from its file alone, with sections added later", async () => {
    saveReportSection(runA, {
      id: "eval",
      title: "Evaluation",
      html: "<p>per-video Dice beside the baselines</p>",
      charts: [
        {
          title: "Dice per video",
          kind: "bars",
          yLabel: "Dice",
          categories: ["video 1", "video 2"],
          series: [
            { label: "model", values: [0.8, 0.7] },
            { label: "copy key-frame mask", values: [0.6, 0.5] },
          ],
        },
      ],
      strips: [
        sampleStrip("ring", {
          imageShape: [1, 1, 8, 8],
          maskShape: [1, 1, 8, 8],
          images: Uint8Array.from({ length: 64 }, (_, i) => i * 4),
          masks: Uint8Array.from({ length: 64 }, (_, i) =>
            i >> 3 > 1 && i >> 3 < 6 && i % 8 > 1 && i % 8 < 6 ? 255 : 0,
          ),
        }),
      ],
    });
    const path = await writeReport(runA);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    const outside: string[] = [];
    await page.route("**/*", (route) => {
      if (route.request().url().startsWith("file:")) return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    await page.goto(pathToFileURL(path).href);
    await page.waitForSelector("body[data-rendered=true]");
    await page.waitForTimeout(200);
    await expectCurvesAndPreviews(page, "report.png");
    const bars = await chartStats(page, 'canvas[data-chart="section-0-0"]', {
      model: "#2563eb",
      copy: "#f97316",
    });
    expect(bars.colors.model).toBeGreaterThan(500);
    expect(bars.colors.copy).toBeGreaterThan(300);
    expect((await stripStats(page, 'canvas[data-strip="section-0-0"]')).overlayBottom).toBeGreaterThan(100);
    await expect(page.locator(".pill").getAttribute("data-state")).resolves.toBe("finished");
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("overlays several runs in one dashboard, one colour per run", async () => {
    // A second real training would double this file's time: run-b is run-a's record with its
    // curves scaled and half its steps, which is all an overlay needs.
    const runB = join(root, "run-b");
    cpSync(runA, runB, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(runB, "config.json"), "utf8"));
    writeFileSync(join(runB, "config.json"), JSON.stringify({ ...cfg, name: "run-b" }));
    const rows = readMetrics(runA)
      .filter((m) => m.step <= 20)
      .map((m) => ({ ...m, total: (m.total as number) * 0.8, lr: 3e-3 }));
    writeFileSync(join(runB, "metrics.jsonl"), rows.map((m) => `${JSON.stringify(m)}\n`).join(""));
    const sources = [runA, runB].map((dir) => new TailRunSource(dir));
    const dashboard = await startDashboard({ sources, port: 0 });
    try {
      const page = await browser.newPage();
      await page.goto(dashboard.url);
      await page.waitForSelector("body[data-rendered=true]");
      await page.waitForTimeout(200);
      expect(await page.locator("#run-legend .key").allTextContents()).toEqual(
        expect.arrayContaining(["run-a", "run-b"]),
      );
      const total = await chartStats(page, 'canvas[data-chart="total"]', { a: "#2563eb", b: "#f97316" });
      expect(total.colors.a).toBeGreaterThan(100);
      expect(total.colors.b).toBeGreaterThan(40);
      expect(await page.locator("canvas[data-strip]").count()).toBe(2);
      expect(await page.locator('canvas[data-chart="losses"]').count()).toBe(0);
      await page.screenshot({ path: join(root, "compare.png"), fullPage: true });
      await page.close();
    } finally {
      for (const s of sources) s.close();
      await dashboard.close();
    }
  });
});
