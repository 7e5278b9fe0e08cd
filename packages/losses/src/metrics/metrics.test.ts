import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tensorOf, unit } from "../../test/arbitraries.js";
import { full, type Tensor, tensor, zeros } from "../tensor.js";
import { boundaryF } from "./boundary-f.js";
import { dice } from "./dice.js";
import { iou } from "./iou.js";
import { PSNR_CAP_DB, psnr } from "./psnr.js";
import { selectBySimilarity, selectFixedStep } from "./selection.js";
import { ssim } from "./ssim.js";
import { temporalStability } from "./temporal-stability.js";

const plane = fc
  .record({ h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 12 }) })
  .chain(({ h, w }) => fc.tuple(tensorOf([h, w]), tensorOf([h, w])));

describe("overlap metrics", () => {
  it("dice and iou lie in [0, 1], are symmetric and satisfy dice = 2 iou / (1 + iou)", () => {
    fc.assert(
      fc.property(plane, ([p, t]) => {
        const d = dice(p, t);
        const j = iou(p, t);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
        expect(d).toBe(dice(t, p));
        expect(j).toBe(iou(t, p));
        expect(d).toBeCloseTo((2 * j) / (1 + j), 12);
      }),
    );
  });

  it("empty against empty is 1, empty against full is 0", () => {
    expect(dice(zeros([3, 5]), zeros([3, 5]))).toBe(1);
    expect(iou(zeros([1, 3, 5]), zeros([1, 3, 5]))).toBe(1);
    expect(iou(zeros([3, 5]), full([3, 5], 1))).toBe(0);
    expect(iou(full([2, 2], 0.5), full([2, 2], 1))).toBe(1); // binarised at >= 0.5
  });
});

describe("image metrics", () => {
  it("psnr is capped at 100 dB, reached by identical images; ssim of identical images is 1", () => {
    fc.assert(
      fc.property(plane, ([a, b]) => {
        expect(psnr(a, b)).toBeLessThanOrEqual(PSNR_CAP_DB);
        expect(psnr(a, tensor(a.data.slice(), a.shape))).toBe(PSNR_CAP_DB);
        expect(ssim(a, tensor(a.data.slice(), a.shape))).toBe(1);
        expect(Math.abs(ssim(a, b))).toBeLessThanOrEqual(1 + 1e-12);
        expect(ssim(a, b)).toBeCloseTo(ssim(b, a), 12);
      }),
    );
  });

  it("rejects out-of-range images naming the argument", () => {
    expect(() => psnr(zeros([2, 2]), full([2, 2], 255))).toThrow(
      "b: values must lie in [0, 1], got min 255 max 255",
    );
  });
});

describe("boundaryF", () => {
  it("lies in [0, 1], is symmetric, 1 on identical masks and grows with the tolerance", () => {
    fc.assert(
      fc.property(plane, fc.integer({ min: 0, max: 3 }), ([p, t], tol) => {
        const f = boundaryF(p, t, tol);
        expect(f).toBeGreaterThanOrEqual(0);
        expect(f).toBeLessThanOrEqual(1);
        expect(f).toBe(boundaryF(t, p, tol));
        expect(boundaryF(p, p, tol)).toBe(1);
        expect(boundaryF(p, t, tol + 1)).toBeGreaterThanOrEqual(f);
      }),
    );
  });

  it("full masks have no boundary (1), empty against a blob is 0, negative tolerance is an error", () => {
    const blob = tensor([0, 0, 0, 0, 1, 0, 0, 0, 0], [3, 3]);
    expect(boundaryF(full([4, 6], 1), full([4, 6], 1))).toBe(1);
    expect(boundaryF(zeros([3, 3]), blob)).toBe(0);
    expect(() => boundaryF(blob, blob, -1)).toThrow("tolerance: expected a finite number >= 0, got -1");
  });
});

describe("temporalStability", () => {
  it("is the mean IoU of consecutive masks, 1 for a steady sequence", () => {
    fc.assert(
      fc.property(
        fc
          .record({ steps: fc.integer({ min: 2, max: 5 }), side: fc.integer({ min: 1, max: 6 }) })
          .chain(({ steps, side }) => tensorOf([steps, 1, side, side])),
        (seq) => {
          const [steps, , side] = seq.shape;
          const n = side * side;
          let want = 0;
          for (let t = 0; t + 1 < steps; t++) {
            const a = tensor(seq.data.slice(t * n, (t + 1) * n), [side, side]);
            const b = tensor(seq.data.slice((t + 1) * n, (t + 2) * n), [side, side]);
            want += iou(a, b);
          }
          expect(temporalStability(seq)).toBeCloseTo(want / (steps - 1), 12);
        },
      ),
      { numRuns: 30 },
    );
    expect(temporalStability(full([3, 4, 4], 1))).toBe(1);
    expect(() => temporalStability(zeros([1, 4, 4]))).toThrow("masks: needs at least 2 frames");
  });
});

describe("output selection", () => {
  it("selectFixedStep gives 0, step, 2·step, … below n", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 10 }), (n, step) => {
        const got = selectFixedStep(n, step);
        expect(got.length).toBe(Math.ceil(n / step));
        expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i * step));
      }),
    );
    expect(() => selectFixedStep(4, 0)).toThrow("step: expected an integer >= 1, got 0");
  });

  const frames: fc.Arbitrary<Tensor> = fc.integer({ min: 1, max: 6 }).chain((n) => tensorOf([n, 1, 5, 4]));

  it("always keeps frame 0, returns ascending indices, and the thresholds 0 / 1 behave as limits", () => {
    fc.assert(
      fc.property(frames, unit, fc.constantFrom("ssim", "1-l1", "ncc" as const), (f, thr, d) => {
        const n = f.shape[0];
        for (const mode of ["keep-dissimilar", "keep-similar"] as const) {
          const kept = selectBySimilarity(f, mode, thr, d);
          expect(kept[0]).toBe(0);
          for (let i = 1; i < kept.length; i++) expect(kept[i]).toBeGreaterThan(kept[i - 1]);
        }
        expect(selectBySimilarity(f, "keep-similar", 0, d)).toEqual([...Array(n).keys()]);
        expect(selectBySimilarity(f, "keep-dissimilar", 0, d)).toEqual([0]);
      }),
      { numRuns: 40 },
    );
    // @ts-expect-error runtime check of a value outside the type
    expect(() => selectBySimilarity(zeros([2, 3, 3]), "keep-all", 0.5)).toThrow(
      'mode: unsupported value "keep-all"',
    );
  });
});
