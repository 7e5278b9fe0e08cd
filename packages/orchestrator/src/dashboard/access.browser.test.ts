/**
 * The token flow off loopback, in real headless Chromium: the printed URL's ?token= becomes a
 * cookie, the address bar loses the token, and the page's own requests (its event stream, the
 * API) carry the cookie; a browser without it is refused.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { TailRunSource } from "./run-source.js";
import { startDashboard } from "./server.js";

const CHROMIUM = "/usr/bin/chromium";
let root: string;
let browser: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the dashboard tests need Debian's Chromium at ${CHROMIUM} (apt-get install chromium)`);
  }
  root = tempDir("dashboard-token");
  browser = await chromium.launchPersistentContext(mkdtempSync(join(root, "chromium-profile-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe("dashboard on 0.0.0.0", () => {
  it("opens from the printed URL, then streams events and serves the API on the cookie alone", async () => {
    const dir = join(root, "run-a");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ name: "run-a", stop: { max_steps: 10 } }));
    writeFileSync(join(dir, "metrics.jsonl"), `${JSON.stringify({ step: 1, kind: "train", total: 1 })}\n`);
    const source = new TailRunSource(dir, { intervalMs: 50 });
    const dashboard = await startDashboard({ sources: [source], port: 0, host: "0.0.0.0" });
    try {
      const page = await browser.newPage();
      await page.goto(dashboard.url);
      await page.waitForSelector("body[data-rendered=true]");
      expect(page.url()).toBe(`http://127.0.0.1:${dashboard.port}/`);
      const seen = await page.evaluate(async () => {
        const snapshot = await new Promise<string>((resolve) => {
          const events = new EventSource("events");
          events.addEventListener("snapshot", () => {
            events.close();
            resolve("snapshot");
          });
          events.onerror = () => resolve("error");
        });
        return { snapshot, api: (await fetch("api/runs")).status };
      });
      expect(seen).toEqual({ snapshot: "snapshot", api: 200 });

      await page.close();

      await browser.clearCookies(); // a browser that never saw the token
      const stranger = await browser.newPage();
      expect((await stranger.goto(`http://127.0.0.1:${dashboard.port}/`))?.status()).toBe(401);
      await stranger.close();
    } finally {
      source.close();
      await dashboard.close();
    }
  });
});
