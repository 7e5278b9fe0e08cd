// generateFromStill: the Fig. 5 feedback loop, initial masks, validation.
import { describe, expect, it } from "vitest";

import { fakeGenerator, flatFrame, flatMask } from "../test/fake-generator.js";
import { Code, InferenceError } from "./errors.js";
import { generateFromStill } from "./still-to-video.js";

describe("generateFromStill", () => {
  it("feeds back the predicted image and mask", async () => {
    const { generator } = fakeGenerator();
    const video = await generateFromStill(generator, flatFrame(0.2), flatMask(1), { steps: 3 });
    [0.2, 0.8, 0.2, 0.8].forEach((v, t) => {
      expect(video.frames[t].data[0]).toBeCloseTo(v, 6);
    });
    // m1 = 0.5*1 + 0.5*0.2, m2 = 0.5*m1 + 0.5*0.8 (the predicted image), m3 = 0.5*m2 + 0.5*0.2
    const m1 = 0.6;
    const m2 = 0.5 * m1 + 0.4;
    const m3 = 0.5 * m2 + 0.1;
    [1, m1, m2, m3].forEach((m, t) => {
      expect(video.masks[t].data[0]).toBeCloseTo(m, 6);
    });
  });

  it("without a mask starts from a seeded random blob mask, reproducibly", async () => {
    const { generator } = fakeGenerator();
    const a = await generateFromStill(generator, flatFrame(0.5, 8, 8), undefined, { steps: 1, seed: 7 });
    const b = await generateFromStill(generator, flatFrame(0.5, 8, 8), undefined, { steps: 1, seed: 7 });
    const c = await generateFromStill(generator, flatFrame(0.5, 8, 8), undefined, { steps: 1, seed: 8 });
    expect(a.masks[0].data).toEqual(b.masks[0].data);
    expect(a.masks[0].data).not.toEqual(c.masks[0].data);
    expect(a.masks[0].data.every((v) => v === 0 || v === 1)).toBe(true);
    const zeros = await generateFromStill(generator, flatFrame(0.5), undefined, {
      steps: 1,
      initialMask: "zeros",
    });
    expect([...zeros.masks[0].data]).toEqual(Array(6).fill(0));
  });

  it("rejects bad steps, a wrong channel count and a mask of another size", async () => {
    const { generator } = fakeGenerator(1);
    const cases: [Promise<unknown>, RegExp][] = [
      [
        generateFromStill(generator, flatFrame(0), flatMask(0), { steps: 0 }),
        /steps: expected an integer >= 1, got 0/,
      ],
      [generateFromStill(generator, flatFrame(0, 2, 3, 3), flatMask(0)), /image.channels: expected 1/],
      [generateFromStill(generator, flatFrame(0), flatMask(0, 3, 3)), /mask size: expected 2x3/],
    ];
    for (const [promise, message] of cases) {
      const err = await promise.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InferenceError);
      expect((err as InferenceError).code).toBe(Code.INVALID_ARGUMENT);
      expect((err as Error).message).toMatch(message);
    }
  });
});
