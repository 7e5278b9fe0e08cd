// The composed still -> video samplers against independent computations: the bicubic sampler as
// a direct sum of Keys' kernel, integer shifts, constants, a bilinear warp that reads zeros outside, and
// fields that compose as maps (Python models/still_to_video.py is checked against the same
// closed forms in tests/models/test_model_still_to_video_composed.py; the two languages are
// compared on a real model in still-to-video-warp.test.ts).
import { describe, expect, it } from "vitest";

import { splitDetail } from "./detail-sampling.js";
import {
  compose,
  type Field,
  sampleBicubic,
  sampleDetailed,
  scaleField,
  startComposed,
  warpBilinear,
} from "./still-to-video-compose.js";

const H = 12;
const W = 16;

function constantField(dx: number, dy: number, h = H, w = W): Field {
  const data = new Float32Array(2 * h * w);
  data.fill(dx, 0, h * w);
  data.fill(dy, h * w);
  return { data, height: h, width: w };
}

/** One channel, value f(x, y). */
function image(f: (x: number, y: number) => number, h = H, w = W) {
  const data = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
  return { data, channels: 1, height: h, width: w };
}

function maxInner(a: Float32Array, f: (x: number, y: number) => number, margin: number): number {
  let m = 0;
  for (let y = margin; y < H - margin; y++) {
    for (let x = margin; x < W - margin; x++) m = Math.max(m, Math.abs(a[y * W + x] - f(x, y)));
  }
  return m;
}

describe("sampleBicubic (grid_sample bicubic, a = -0.75, border)", () => {
  const ramp = (x: number, y: number) => 0.03 * x - 0.02 * y + 0.4;

  it("is the sum of Keys' kernel over every pixel, edges repeated (a direct 2-D convolution)", () => {
    // K(d): Keys (1981) cubic convolution with a = -0.75, written on the distance d
    const K = (d: number) => {
      const x = Math.abs(d);
      if (x <= 1) return (-0.75 + 2) * x ** 3 - (-0.75 + 3) * x ** 2 + 1;
      if (x < 2) return -0.75 * x ** 3 + 3.75 * x ** 2 - 6 * x + 3;
      return 0;
    };
    const noise = image((x, y) => Math.sin(5 * x + 2 * y * y) * 0.5 + 0.5);
    const field = constantField(0.3, -0.7);
    for (let i = 0; i < field.data.length / 2; i++) field.data[i] += 0.1 * Math.sin(i); // varying
    const out = sampleBicubic(noise, field);
    const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
    let m = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sx = x + field.data[y * W + x];
        const sy = y + field.data[H * W + y * W + x];
        let acc = 0;
        for (let j = -3; j < H + 3; j++) {
          for (let i = -3; i < W + 3; i++)
            acc += K(sx - i) * K(sy - j) * noise.data[clamp(j, H) * W + clamp(i, W)];
        }
        m = Math.max(m, Math.abs(out[y * W + x] - acc));
      }
    }
    expect(m).toBeLessThan(1e-6);
  });

  it("moves by whole pixels exactly and repeats the edge", () => {
    const noise = image((x, y) => Math.sin(7 * x + 3 * y * y) * 0.5 + 0.5);
    const out = sampleBicubic(noise, constantField(2, -1));
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const sx = Math.min(x + 2, W - 1);
        const sy = Math.max(y - 1, 0);
        expect(out[y * W + x]).toBeCloseTo(noise.data[sy * W + sx], 6);
      }
    }
  });

  it("weights sum to one: a constant stays constant everywhere, edges included", () => {
    const out = sampleBicubic(
      image(() => 0.25),
      constantField(-0.45, 0.8),
    );
    for (const v of out) expect(v).toBeCloseTo(0.25, 6);
  });

  it("refuses a field of another size", () => {
    expect(() => sampleBicubic(image(ramp), constantField(0, 0, H, W + 1))).toThrow(/field/);
  });
});

describe("warpBilinear (grid_sample bilinear, zeros outside)", () => {
  it("interpolates linearly inside and reads zero beyond the frame", () => {
    const ramp = (x: number, y: number) => 0.05 * x + 0.01 * y;
    const out = warpBilinear(image(ramp), constantField(0.25, 0.5));
    expect(maxInner(out, (x, y) => ramp(x + 0.25, y + 0.5), 1)).toBeLessThan(1e-6);
    const ones = warpBilinear(
      image(() => 1),
      constantField(-0.5, 0),
    );
    expect(ones[0]).toBeCloseTo(0.5, 6); // half of the tap is outside the frame
    expect(ones[5]).toBeCloseTo(1, 6);
  });
});

describe("compose", () => {
  it.each([0, 1])("sums constant steps into one map and samples the still once (detail %s)", (detail) => {
    const still = { ...image((x, y) => Math.sin(x) * Math.cos(y) * 0.4 + 0.5) };
    const mask = { data: new Float32Array(H * W).fill(1), height: H, width: W };
    let state = startComposed(still, mask, detail);
    const zero = new Float32Array(H * W);
    for (const [dx, dy] of [
      [0.3, -0.2],
      [0.4, 0.1],
      [-0.2, 0.35],
    ]) {
      state = compose(state, constantField(dx, dy), zero);
    }
    const once =
      detail === 0
        ? sampleBicubic(still, constantField(0.5, 0.25))
        : sampleDetailed(still, splitDetail(still, detail), constantField(0.5, 0.25));
    let m = 0;
    for (let y = 3; y < H - 3; y++) {
      for (let x = 3; x < W - 3; x++) {
        const i = y * W + x;
        m = Math.max(m, Math.abs(state.image.data[i] - Math.min(Math.max(once[i], 0), 1)));
        expect(state.field.data[i]).toBeCloseTo(0.5, 5);
        expect(state.field.data[H * W + i]).toBeCloseTo(0.25, 5);
      }
    }
    expect(m).toBeLessThan(1e-5);
  });

  it("carries the residual and adds each step's", () => {
    const still = image(() => 0.5);
    let state = startComposed(still, { data: new Float32Array(H * W), height: H, width: W });
    const r = new Float32Array(H * W).fill(0.01);
    for (let t = 0; t < 3; t++) state = compose(state, constantField(0.3, 0.3), r);
    for (const v of state.image.data) expect(v).toBeCloseTo(0.53, 5);
  });

  it("scales a step by the motion strength and keeps its sources in the frame", () => {
    const v = scaleField(constantField(1.5, 0), 2);
    for (let x = 0; x < W; x++) expect(v.data[x]).toBeCloseTo(Math.min(x + 3, W - 1) - x, 6);
    const u = constantField(1, 1);
    expect(scaleField(u, 1)).toBe(u);
  });
});
