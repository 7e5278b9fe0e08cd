// Output selection over FloatImage frames, delegated to @stillmotion/losses.
import { describe, expect, it } from "vitest";

import { Code, InferenceError } from "./errors.js";
import type { FloatImage } from "./image-types.js";
import { pick, selectBySimilarity, selectEvery } from "./select.js";

const flat = (v: number): FloatImage => ({
  data: new Float32Array(12).fill(v),
  channels: 3,
  height: 2,
  width: 2,
});

describe("selection", () => {
  it("selectEvery samples at a fixed step", () => {
    expect(selectEvery(10, 3)).toEqual([0, 3, 6, 9]);
    expect(selectEvery(0, 2)).toEqual([]);
  });

  it("keep-dissimilar drops near-duplicates of the last kept frame (d = 1 - L1)", () => {
    const frames = [0, 0.01, 0.02, 0.3, 0.31, 0.8].map(flat);
    // d(0, 0.01) = 0.99, d(0, 0.02) = 0.98 >= 0.9 -> dropped; d(0, 0.3) = 0.7 < 0.9 -> kept ...
    expect(selectBySimilarity(frames, "keep-dissimilar", 0.9, "1-l1")).toEqual([0, 3, 5]);
  });

  it("keep-similar drops frames that jump away from the last kept frame", () => {
    const frames = [0, 0.05, 0.6, 0.1, 0.12].map(flat);
    expect(selectBySimilarity(frames, "keep-similar", 0.9, "1-l1")).toEqual([0, 1, 3, 4]);
  });

  it("defaults to SSIM and handles an empty list", () => {
    expect(selectBySimilarity([], "keep-similar", 0.5)).toEqual([]);
    expect(selectBySimilarity([flat(0.2), flat(0.2)], "keep-dissimilar", 0.5)).toEqual([0]);
  });

  it("errors are InferenceError INVALID_ARGUMENT naming the argument", () => {
    const bad: [() => unknown, RegExp][] = [
      [() => selectEvery(5, 0), /step: expected an integer >= 1/],
      [() => selectBySimilarity([flat(0)], "keep-some" as "keep-similar", 0.5), /mode/],
      [() => selectBySimilarity([flat(0)], "keep-similar", 2), /threshold/],
      [
        () => selectBySimilarity([flat(0), { ...flat(0), height: 1, width: 4 }], "keep-similar", 0.5),
        /frames\[1\] size/,
      ],
      [() => pick([1, 2], [2]), /index: expected an integer in 0..1, got 2/],
    ];
    for (const [f, message] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InferenceError);
      expect((err as InferenceError).code).toBe(Code.INVALID_ARGUMENT);
      expect((err as Error).message).toMatch(message);
    }
  });
});
