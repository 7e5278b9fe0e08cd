import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tensorOf, tensorPair } from "../test/arbitraries.js";
import { dNcc, dSsim, SIMILARITY_NAMES, similarity, ssimPerSample } from "./similarity.js";
import { full, tensor, zeros } from "./tensor.js";

describe("similarity d", () => {
  it.each(SIMILARITY_NAMES)("%s lies in [0, 1] and is symmetric, at any size down to 1x1", (name) => {
    fc.assert(
      fc.property(tensorPair(), ([a, b]) => {
        const ab = similarity(name, a, b);
        const ba = similarity(name, b, a);
        for (let i = 0; i < ab.data.length; i++) {
          expect(ab.data[i]).toBeGreaterThanOrEqual(0);
          expect(ab.data[i]).toBeLessThanOrEqual(1);
          expect(ab.data[i]).toBeCloseTo(ba.data[i], 10);
        }
      }),
    );
  });

  it.each(SIMILARITY_NAMES)("%s of an image with itself is exactly 1", (name) => {
    fc.assert(
      fc.property(
        tensorPair().map(([a]) => a),
        (a) => {
          const copy = tensor(a.data.slice(), a.shape);
          expect([...similarity(name, a, copy).data]).toEqual(new Array(a.shape[0]).fill(1));
        },
      ),
    );
  });

  it("unclamped SSIM lies in [-1, 1] and clamping only cuts the negative part", () => {
    fc.assert(
      fc.property(tensorPair(), ([a, b]) => {
        const raw = ssimPerSample(a, b);
        const d = dSsim(a, b);
        for (let i = 0; i < raw.data.length; i++) {
          expect(Math.abs(raw.data[i])).toBeLessThanOrEqual(1 + 1e-12);
          expect(d.data[i]).toBe(Math.min(1, Math.max(0, raw.data[i])));
        }
      }),
    );
  });

  it("float32 storage gives the same result as float64 storage of the same values", () => {
    fc.assert(
      fc.property(tensorOf([2, 3, 6, 7]), tensorOf([2, 3, 6, 7]), (a, b) => {
        const a32 = { data: Float32Array.from(a.data), shape: a.shape };
        const b32 = { data: Float32Array.from(b.data), shape: b.shape };
        const a64 = tensor(Float64Array.from(a32.data), a.shape);
        const b64 = tensor(Float64Array.from(b32.data), b.shape);
        expect([...dSsim(a32, b32).data]).toEqual([...dSsim(a64, b64).data]);
      }),
      { numRuns: 20 },
    );
  });

  it("ncc: both flat → 1, one flat → 0, anti-correlated → 0", () => {
    const texture = tensor([0.1, 0.9, 0.3, 0.7, 0.2, 0.4], [1, 1, 2, 3]);
    const inverse = tensor(
      texture.data.map((v) => 1 - v),
      texture.shape,
    );
    expect(dNcc(zeros([1, 1, 2, 3]), full([1, 1, 2, 3], 1)).data[0]).toBe(1);
    expect(dNcc(zeros([1, 1, 2, 3]), texture).data[0]).toBe(0);
    expect(dNcc(texture, inverse).data[0]).toBe(0);
  });
});
