/**
 * scene-nonrigid.ts on the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_scene_nonrigid.py holds the same numbers), and an exact
 * similarity removed whole. The roll-out that uses it is in still-to-video-warp.test.ts.
 */
import { describe, expect, it } from "vitest";

import { maxAbsDiff } from "../test/reference.js";
import { similarityFit, withoutSimilarity } from "./scene-nonrigid.js";

/** The largest |a_i - b_i| of two number lists (the fit in double precision). */
const farthest = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

const SHARED_U = [
  [0.5, -0.25, 1.0, 0.0, 0.75, 0.5, -0.5, 0.25, 1.5, 0.0, 0.25, -1.0],
  [0.0, 0.25, -0.5, 1.0, -0.25, 0.5, 0.75, 0.0, 0.5, -1.0, 0.0, 0.25],
].flat();
const SHARED_FIT = [0.25, 0.125, -24 / 92, 9 / 92];
const SHARED_V = [
  [
    0.0, -0.728261, 0.782609, 0.0, 0.108696, 0.119565, -0.619565, 0.0, 0.956522, -0.282609, 0.228261,
    -0.76087,
  ],
  [0.0, 0.0, 0.0, 0.467391, -0.228261, 0.423913, 0.576087, -0.271739, 0.0, -0.815217, 0.0, 0.0],
].flat();

describe("shared vectors (test_model_scene_nonrigid.py)", () => {
  it("fits (t_x, t_y, a, b) and removes it, sources clamped into the frame", () => {
    const u = { data: Float32Array.from(SHARED_U), height: 3, width: 4 };
    expect(farthest(similarityFit(u), SHARED_FIT)).toBeLessThan(1e-9);
    expect(maxAbsDiff(withoutSimilarity(u).data, Float32Array.from(SHARED_V))).toBeLessThan(1e-6);
  });
});

describe("withoutSimilarity", () => {
  it("removes an exact similarity whole", () => {
    const h = 12;
    const w = 16;
    const data = new Float32Array(2 * h * w);
    for (let py = 0; py < h; py++) {
      for (let px = 0; px < w; px++) {
        const x = px - (w - 1) / 2;
        const y = py - (h - 1) / 2;
        data[py * w + px] = 0.7 + 0.05 * x + 0.03 * y;
        data[h * w + py * w + px] = -0.4 - 0.03 * x + 0.05 * y;
      }
    }
    const fit = similarityFit({ data, height: h, width: w });
    expect(farthest(fit, [0.7, -0.4, 0.05, -0.03])).toBeLessThan(1e-6);
    expect(Math.max(...withoutSimilarity({ data, height: h, width: w }).data.map(Math.abs))).toBeLessThan(
      1e-5,
    );
  });
});
