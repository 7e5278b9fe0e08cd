// The random initial mask: binary blobs covering 5-50 % of the frame, reproducible by seed.
import { describe, expect, it } from "vitest";

import { MAX_AREA, MIN_AREA, randomMask } from "./random-mask.js";

describe("randomMask", () => {
  it("is binary, covers a fraction in [0.05, 0.5], and depends only on the seed", () => {
    for (let seed = 0; seed < 20; seed++) {
      const m = randomMask(40, 56, seed);
      const on = m.data.reduce((n, v) => n + v, 0);
      expect(new Set(m.data).size).toBeLessThanOrEqual(2);
      expect(m.data.every((v) => v === 0 || v === 1)).toBe(true);
      // ties at the threshold may add a few pixels; the smooth field makes them rare
      expect(on / m.data.length).toBeGreaterThanOrEqual(MIN_AREA - 1e-3);
      expect(on / m.data.length).toBeLessThanOrEqual(MAX_AREA + 1e-2);
    }
    expect(randomMask(16, 16, 3).data).toEqual(randomMask(16, 16, 3).data);
    expect(randomMask(16, 16, 3).data).not.toEqual(randomMask(16, 16, 4).data);
  });

  it("forms blobs, not salt-and-pepper noise: most lit pixels have a lit neighbour", () => {
    const h = 64;
    const w = 64;
    const m = randomMask(h, w, 11).data;
    let lit = 0;
    let withNeighbour = 0;
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        if (m[y * w + x] !== 1) continue;
        lit++;
        if (m[y * w + x + 1] + m[y * w + x - 1] + m[(y + 1) * w + x] + m[(y - 1) * w + x] >= 2)
          withNeighbour++;
      }
    }
    expect(withNeighbour / lit).toBeGreaterThan(0.9);
  });

  it("works down to 1x1", () => {
    expect(Array.from(randomMask(1, 1, 0).data)).toEqual([1]);
  });
});
