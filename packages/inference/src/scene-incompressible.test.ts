/**
 * scene-incompressible.ts on the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_scene_incompressible.py holds the same numbers), the
 * divergence of the result against its definition, and a gradient removed whole while a swirl
 * stays. The roll-out that uses it is in still-to-video-warp.test.ts.
 */
import { describe, expect, it } from "vitest";

import { maxAbsDiff } from "../test/reference.js";
import { divergence, divergenceFree, divergenceFreePart } from "./scene-incompressible.js";

const SHARED_U = [
  [0.25, -0.125, 0.5, 0.0, 0.375, 0.25, -0.25, 0.125, 0.75, 0.0, 0.125, -0.5],
  [0.0, 0.125, -0.25, 0.5, -0.125, 0.25, 0.375, 0.0, 0.25, -0.5, 0.0, 0.125],
].flat();
const SHARED_V = [
  [0.0, -0.1001553, 0.3263975, 0.0, 0.0293478, 0.1467391, -0.4206522, 0.0, 0.0, -0.0465839, 0.0942547, -0.5],
  [0.0236025, 0.0765528, 0.0, 0.3263975, -0.0057453, -0.0408385, 0.1408385, -0.0942547, 0.0, -0.5, 0.0, 0.0],
].flat();

/** A (2, H, W) field from per-pixel (x, y) functions. */
function field(
  h: number,
  w: number,
  fx: (x: number, y: number) => number,
  fy: (x: number, y: number) => number,
) {
  const data = new Float32Array(2 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data[y * w + x] = fx(x, y);
      data[h * w + y * w + x] = fy(x, y);
    }
  }
  return { data, height: h, width: w };
}

describe("shared vectors (test_model_scene_incompressible.py)", () => {
  it("keeps the divergence-free part, sources clamped into the frame", () => {
    const u = { data: Float32Array.from(SHARED_U), height: 3, width: 4 };
    expect(maxAbsDiff(divergenceFree(u).data, Float32Array.from(SHARED_V))).toBeLessThan(1e-6);
  });
});

describe("divergenceFreePart", () => {
  it("leaves no divergence, by the definition of D, and changes a random step", () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    };
    const u = field(9, 13, rand, rand);
    const w = divergenceFreePart(u);
    // D written out again, pixel by pixel: flow out to the right and down, in from left and up
    let worst = 0;
    for (let y = 0; y < 9; y++) {
      for (let x = 0; x < 13; x++) {
        const at = (c: number, yy: number, xx: number) => w[c * 117 + yy * 13 + xx];
        const div =
          (x < 12 ? at(0, y, x) : 0) -
          (x > 0 ? at(0, y, x - 1) : 0) +
          (y < 8 ? at(1, y, x) : 0) -
          (y > 0 ? at(1, y - 1, x) : 0);
        worst = Math.max(worst, Math.abs(div));
      }
    }
    expect(worst).toBeLessThan(1e-9);
    expect(Math.max(...divergence(u).map(Math.abs))).toBeGreaterThan(0.1);
  });

  it("removes a gradient whole and keeps a swirl", () => {
    const h = 14;
    const w = 18;
    const bump = (x: number, y: number) => Math.exp(-((x - 8.5) ** 2 + (y - 6.5) ** 2) / 4);
    // G bump (forward differences), and the discrete curl of a stream function: no divergence
    const swell = field(
      h,
      w,
      (x, y) => (x < w - 1 ? bump(x + 1, y) - bump(x, y) : 0),
      (x, y) => (y < h - 1 ? bump(x, y + 1) - bump(x, y) : 0),
    );
    const swirl = field(
      h,
      w,
      (x, y) => -(bump(x, y) - (y > 0 ? bump(x, y - 1) : 0)),
      (x, y) => bump(x, y) - (x > 0 ? bump(x - 1, y) : 0),
    );
    expect(Math.max(...divergenceFreePart(swell).map(Math.abs))).toBeLessThan(1e-4);
    const both = { ...swell, data: swell.data.map((v, i) => v + swirl.data[i]) };
    expect(maxAbsDiff(Float32Array.from(divergenceFreePart(both)), swirl.data)).toBeLessThan(1e-4);
  });
});
