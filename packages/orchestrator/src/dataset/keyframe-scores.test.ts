import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../repo-paths.js";
import {
  centredness,
  exposure,
  type FrameScore,
  luminance,
  type PlanarImage,
  scoreFrames,
  selectKeyframes,
  sharpness,
} from "./keyframe-scores.js";

/** Deterministic pseudo-random values (a linear congruential generator). */
function noise(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) % 4294967296;
    out[i] = s / 4294967296;
  }
  return out;
}

describe("key-frame scores", () => {
  it("sharpness equals the variance of the Laplacian computed by hand", () => {
    const y = noise(5 * 4, 1);
    const laps: number[] = [];
    for (let r = 1; r < 4; r++)
      for (let c = 1; c < 3; c++) {
        const at = (rr: number, cc: number) => y[rr * 4 + cc];
        laps.push(at(r - 1, c) + at(r + 1, c) + at(r, c - 1) + at(r, c + 1) - 4 * at(r, c));
      }
    const mean = laps.reduce((a, b) => a + b) / laps.length;
    const variance = laps.reduce((a, b) => a + (b - mean) ** 2, 0) / laps.length;
    expect(sharpness(y, 5, 4)).toBeCloseTo(variance, 12);
    expect(sharpness(y, 2, 10)).toBe(0);
  });

  it("exposure, centredness and luminance at their reference points", () => {
    expect(exposure(new Float64Array(16).fill(0.5))).toBeCloseTo(1);
    expect(exposure(new Float64Array(16).fill(0))).toBe(0);
    const glare = new Float64Array(100).fill(0.5).fill(1, 0, 10);
    expect(exposure(glare)).toBeCloseTo(0);
    const m = new Float64Array(81);
    for (let r = 3; r < 6; r++) for (let c = 3; c < 6; c++) m[r * 9 + c] = 1;
    expect(centredness({ data: m, height: 9, width: 9 })).toBeCloseTo(1);
    const corner = new Float64Array(81);
    corner[0] = 1;
    expect(centredness({ data: corner, height: 9, width: 9 })).toBeCloseTo(0);
    const red: PlanarImage = { data: [1, 0, 0], channels: 3, height: 1, width: 1 };
    expect(luminance(red)[0]).toBeCloseTo(0.299);
  });

  it("selects by score with spacing, skipping frames without lesion (same cases as Python)", () => {
    const values = [0.1, 0.9, 0.85, 0.8, 0.2, 0.3, 0.7, 0.1];
    const mk = (areas?: number[]): FrameScore[] =>
      values.map((score, index) => ({
        index,
        score,
        sharpness: 0,
        exposure: 0,
        centredness: null,
        maskArea: areas ? areas[index] : null,
      }));
    expect(selectKeyframes(mk(), 2)).toEqual([1, 3]);
    expect(selectKeyframes(mk(), 2, 4)).toEqual([1, 6]);
    expect(selectKeyframes(mk([0.1, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.1]), 1)).toEqual([3]);
    expect(() => selectKeyframes(mk(), 9)).toThrow(/k must be/);
  });

  it("matches Python's score_frames on the same pixels", () => {
    const h = 7;
    const w = 6;
    const images = [1, 2, 3].map((seed) => noise(3 * h * w, seed));
    const masks = [0, 1, 2].map((shift) =>
      Float64Array.from({ length: h * w }, (_, i) => (i % w >= shift && i % w < shift + 3 ? 1 : 0)),
    );
    const ts = scoreFrames(
      images.map((data) => ({ data, channels: 3, height: h, width: w })),
      masks.map((data) => ({ data, height: h, width: w })),
    );
    const script = `
import json, sys, numpy as np
from stillmotion_trainer.data.keyframes import score_frames
d = json.load(sys.stdin)
imgs = [np.array(x).reshape(3, ${h}, ${w}) for x in d["images"]]
masks = [np.array(x).reshape(1, ${h}, ${w}) for x in d["masks"]]
print(json.dumps([s.score for s in score_frames(imgs, masks)]))`;
    const out = execFileSync("/usr/bin/python3", ["-c", script], {
      cwd: path.join(repoRoot(), "python-trainer"),
      input: JSON.stringify({ images: images.map((x) => [...x]), masks: masks.map((x) => [...x]) }),
    });
    const py = JSON.parse(out.toString()) as number[];
    expect(ts.map((s) => s.score)).toEqual(py.map((v) => expect.closeTo(v, 10)));
  });
});
