import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../repo-paths.js";
import { balancedThreshold, calibrate } from "./calibrate.js";
import { loadFrame } from "./images.js";
import { loadManifest } from "./manifest.js";
import { datasetStats, distribution } from "./stats.js";

let dir: string;
let synth: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-calibrate-"));
  synth = path.join(dir, "synth");
  const args = [
    "-m",
    "stillmotion_trainer",
    "synth",
    "--out",
    synth,
    "--videos",
    "4",
    "--frames",
    "6",
    "--size",
    "24",
  ];
  execFileSync("/usr/bin/python3", [...args, "--keyframes", "1"], {
    cwd: path.join(repoRoot(), "python-trainer"),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("datasetStats", () => {
  it("counts videos, frames, masks and pairs", async () => {
    const s = await datasetStats({ dataset: synth });
    expect(s).toMatchObject({
      videos: 4,
      frames: 24,
      keyMasks: 4,
      gtMasks: 24,
      sizes: { "24x24": 4 },
      d: "ssim",
    });
    expect(s.consecutive?.count).toBe(4 * 5);
    expect(s.toKey?.count).toBe(4 * 5);
    expect(s.crossVideo?.count).toBe(3 + 2 + 1);
    expect(s.videosWithoutKey).toEqual([]);
    expect(s.consecutive?.histogram.reduce((a, b) => a + b)).toBe(20);
    for (const p of s.pairs) expect(p.d).toBeGreaterThanOrEqual(0);
    expect(s.pairs.every((p) => p.phi !== undefined)).toBe(true);
  });

  it("computes d = 1 - mean|A - B| as an independent loop does", async () => {
    const s = await datasetStats({ dataset: synth, d: "1-l1" });
    const m = await loadManifest(synth);
    const v = m.data.videos[1];
    const a = await loadFrame(path.join(synth, v.frames[2].image), 3);
    const b = await loadFrame(path.join(synth, v.frames[3].image), 3);
    let sum = 0;
    for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
    const pair = s.pairs.find((p) => p.kind === "consecutive" && p.video === v.id && p.a === 2);
    expect(pair?.d).toBeCloseTo(1 - sum / a.data.length, 6);
  });

  it("refuses unknown d and phi names, listing the allowed ones", async () => {
    await expect(datasetStats({ dataset: synth, d: "psnr" as never })).rejects.toThrow(/ssim, 1-l1, ncc/);
    await expect(datasetStats({ dataset: synth, phi: "l3" as never })).rejects.toThrow(/l1, l2, dice/);
  });

  it("summarises a distribution", () => {
    const d = distribution([0.1, 0.2, 0.3, 0.4, 0.95]);
    expect(d).toMatchObject({ count: 5, min: 0.1, median: 0.3, max: 0.95 });
    expect(d?.histogram).toEqual([0, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    expect(distribution([])).toBeNull();
  });
});

describe("calibrate", () => {
  it("splits alike from unlike pairs at the middle of the best range", () => {
    const { threshold, error } = balancedThreshold([0.8, 0.9], [0.1, 0.2]);
    expect(error).toBe(0);
    expect(threshold).toBeCloseTo(0.5005, 4);
  });

  it("suggests γ1 between unlike and alike pairs, and γ2 from the masks, with reasons", async () => {
    const c = await calibrate({ dataset: synth });
    const s = c.stats;
    expect(c.gamma1).toBeGreaterThan(s.crossVideo?.min ?? 0);
    expect(c.gamma1).toBeLessThanOrEqual(s.consecutive?.max ?? 1);
    expect(c.gamma2).toBeGreaterThanOrEqual(0.05);
    expect(c.gamma2).toBeLessThanOrEqual(1);
    expect(c.reasoning.join("\n")).toMatch(/γ1 = .* separates them/);
    expect(c.reasoning.join("\n")).toMatch(/γ2 = /);
  });
});
