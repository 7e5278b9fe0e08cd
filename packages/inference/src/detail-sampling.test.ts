/**
 * detail-sampling.ts: the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_detail_sampling.py), the blur against a direct sum
 * with mirrored indices, nearest sampling against its definition, whole-pixel maps, and the
 * sharpness kept where bicubic loses it.
 */
import { describe, expect, it } from "vitest";

import { blur, DEFAULT_DETAIL, gaussianTaps, sampleNearest, splitDetail } from "./detail-sampling.js";
import type { FloatImage } from "./image-types.js";
import { type Field, sampleBicubic, sampleDetailed } from "./still-to-video-compose.js";

const SHARED_BASE = [
  [0.52898, 0.56883, 0.58302, 0.58085, 0.57939, 0.56132],
  [0.53916, 0.56971, 0.57533, 0.55138, 0.54457, 0.53949],
  [0.53848, 0.54047, 0.53355, 0.49987, 0.46502, 0.4548],
  [0.54014, 0.50978, 0.46626, 0.44843, 0.41257, 0.3829],
  [0.54062, 0.50218, 0.43382, 0.4189, 0.40234, 0.37267],
];
const SHARED_SAMPLED = [
  [0.69135, 0.30065, 1.00011, 0.60478, 0.20899, 0.19836],
  [1.0053, 0.60778, 1.00281, 0.92478, 0.51612, 0.20016],
  [0.98454, 0.9159, 0.19769, 0.89128, 0.81769, 0.4748],
  [0.20153, 0.12405, 0.81322, 0.10681, 0.03204, 0.01262],
  [0.49173, 0.09104, 0.00623, 0.41053, 0.00307, 0.3001],
];

/** The trainer test's `shared_inputs()`: a 5 x 6 image ((3y + 7x) mod 11) / 10 and the field
 * (0.3 sin(x + 2y) + 0.8, 0.45 cos(2x - y) - 0.6). */
function sharedInputs(): { image: FloatImage; field: Field } {
  const [h, w] = [5, 6];
  const data = new Float32Array(h * w);
  const f = new Float32Array(2 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data[y * w + x] = ((3 * y + 7 * x) % 11) / 10;
      f[y * w + x] = 0.3 * Math.sin(x + 2 * y) + 0.8;
      f[h * w + y * w + x] = 0.45 * Math.cos(2 * x - y) - 0.6;
    }
  }
  return { image: { data, channels: 1, height: h, width: w }, field: { data: f, height: h, width: w } };
}

function expectGrid(got: Float32Array, want: number[][], tol: number): void {
  const w = want[0].length;
  want.forEach((row, y) => {
    row.forEach((v, x) => {
      expect(Math.abs(got[y * w + x] - v)).toBeLessThan(tol);
    });
  });
}

function noise(channels: number, h: number, w: number, seed: number): FloatImage {
  let s = seed;
  const data = new Float32Array(channels * h * w).map(() => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
  return { data, channels, height: h, width: w };
}

describe("detail-preserving sampling", () => {
  it("matches the trainer's shared vectors", () => {
    const { image, field } = sharedInputs();
    const detail = splitDetail(image, 1);
    expectGrid(
      image.data.map((v, i) => v - detail[i]),
      SHARED_BASE,
      2e-5,
    );
    expectGrid(sampleDetailed(image, detail, field), SHARED_SAMPLED, 2e-5);
  });

  it("blurs as a direct sum of Gaussian taps with mirrored indices", () => {
    const x = noise(2, 7, 5, 3);
    const sigma = 1.3;
    const g = gaussianTaps(sigma);
    const r = (g.length - 1) / 2;
    expect(r).toBe(4);
    const fold = (i: number, n: number) => {
      let j = Math.abs(i);
      while (j > n - 1) j = 2 * (n - 1) - j; // reflect until inside (BORDER_REFLECT_101)
      return Math.abs(j);
    };
    const got = blur(x, sigma);
    for (let c = 0; c < 2; c++) {
      for (let y = 0; y < 7; y++) {
        for (let xx = 0; xx < 5; xx++) {
          let acc = 0;
          for (let a = -r; a <= r; a++) {
            for (let b = -r; b <= r; b++) {
              acc += g[a + r] * g[b + r] * x.data[c * 35 + fold(y + a, 7) * 5 + fold(xx + b, 5)];
            }
          }
          expect(got[c * 35 + y * 5 + xx]).toBeCloseTo(acc, 6);
        }
      }
    }
  });

  it("samples nearest with halves rounded up and edges repeated", () => {
    const x = noise(1, 3, 4, 5);
    const field: Field = { data: new Float32Array(24), height: 3, width: 4 };
    field.data[0] = 0.5; // (0, 0) -> x 1
    field.data[1] = 0.49; // (1, 0) -> x 1
    field.data[2] = 9; // (2, 0) -> x 3 (clamped)
    field.data[12 + 5] = -3; // (1, 1) -> y 0 (clamped)
    const out = sampleNearest(x, field);
    expect(out[0]).toBe(x.data[1]);
    expect(out[1]).toBe(x.data[1]);
    expect(out[2]).toBe(x.data[3]);
    expect(out[5]).toBe(x.data[1]);
    expect(out[4]).toBe(x.data[4]);
  });

  it("moves the still exactly at whole-pixel maps", () => {
    const still = noise(3, 10, 9, 7);
    const field: Field = { data: new Float32Array(2 * 90), height: 10, width: 9 };
    field.data.fill(2, 0, 90); // out(p) = still(p + (2, -1))
    field.data.fill(-1, 90);
    const out = sampleDetailed(still, splitDetail(still, DEFAULT_DETAIL), field);
    for (let c = 0; c < 3; c++) {
      for (let y = 1; y < 10; y++) {
        for (let x = 0; x < 7; x++) {
          expect(out[c * 90 + y * 9 + x]).toBeCloseTo(still.data[c * 90 + (y - 1) * 9 + x + 2], 5);
        }
      }
    }
  });

  it("keeps white noise's Laplacian variance at a half-pixel shift, where bicubic loses most", () => {
    const n = 48;
    const still = noise(1, n, n, 11);
    const field: Field = { data: new Float32Array(2 * n * n).fill(0.5), height: n, width: n };
    const lapVar = (d: Float32Array) => {
      const v: number[] = [];
      for (let y = 4; y < n - 4; y++) {
        for (let x = 4; x < n - 4; x++) {
          const i = y * n + x;
          v.push(d[i - 1] + d[i + 1] + d[i - n] + d[i + n] - 4 * d[i]);
        }
      }
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
    };
    const base = lapVar(still.data);
    expect(lapVar(sampleBicubic(still, field)) / base).toBeLessThan(0.45);
    expect(lapVar(sampleDetailed(still, splitDetail(still, DEFAULT_DETAIL), field)) / base).toBeGreaterThan(
      0.85,
    );
  });

  it("refuses a negative sigma and gives zeros for sigma 0", () => {
    const still = noise(1, 4, 4, 1);
    expect(() => splitDetail(still, -1)).toThrow(/detail/);
    expect(splitDetail(still, 0).every((v) => v === 0)).toBe(true);
  });
});
