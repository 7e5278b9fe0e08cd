// onnxruntime-node equals PyTorch within 1e-4: one step, a Fig. 5 roll-out and a Fig. 6 chain,
// for both generator variants and both next-frame mask heads (reference outputs from
// `stillmotion_trainer infer-reference`).
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { maxAbsDiff, type Reference, readReference } from "../test/reference.js";
import { Code } from "./errors.js";
import { type Generator, loadGenerator } from "./generator.js";
import type { Mask } from "./image-types.js";
import { propagateMasks } from "./propagate.js";
import { propagateStream } from "./propagate-stream.js";
import { generateFromStill } from "./still-to-video.js";

const TOLERANCE = 1e-4;
// The warp head's soft arg-min (sharp softmax over match costs) amplifies float32 rounding
// differences between the runtimes; fed back along a chain the amplification compounds over
// steps (measured after 3 steps: 1.4e-4 in a Fig. 5 roll-out, 1.7e-4 in the real-frame chain
// with the randomised mask_refine correction; one step stays within TOLERANCE).
const WARP_CHAIN_TOLERANCE = 1e-3;
const fixtures = inject("fixtures");

describe.each([
  ["shared, upsample, 3 channels, 19x27", fixtures.shared3, TOLERANCE],
  ["separate, transposed, 1 channel, 16x13", fixtures.separate1, TOLERANCE],
  ["realtime preset (half-resolution stem, nearest), 3 channels, 21x30", fixtures.realtime3, TOLERANCE],
  ["next-frame input, warp mask head + refine, 3 channels, 20x27", fixtures.nextWarp3, WARP_CHAIN_TOLERANCE],
  [
    "next-frame input, warp head + a correction that erases every mask (collapse guard), 16x20",
    fixtures.nextWarpErasing3,
    WARP_CHAIN_TOLERANCE,
  ],
  ["next-frame input, conv mask head, 1 channel, 17x22", fixtures.nextConv1, TOLERANCE],
])("parity with PyTorch: %s", (_name, dir, chainTolerance) => {
  let generator: Generator;
  let ref: Reference;

  beforeAll(async () => {
    generator = await loadGenerator(join(dir, "model.onnx"));
    ref = await readReference(dir);
  });
  afterAll(async () => generator?.dispose());

  it("one step gives the same next image and next mask", async () => {
    expect(generator.takesNextFrame).toBe(ref.nextFrame !== undefined);
    const out = await generator.step(ref.image, ref.mask, ref.nextFrame);
    expect(maxAbsDiff(out.image.data, ref.step.image.data)).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(out.mask.data, ref.step.mask.data)).toBeLessThan(TOLERANCE);
  });

  it("generateFromStill rolls out like PyTorch (image and mask fed back)", async () => {
    const video = await generateFromStill(generator, ref.image, ref.mask, { steps: ref.rollout.length });
    expect(video.frames).toHaveLength(ref.rollout.length + 1);
    ref.rollout.forEach((r, t) => {
      expect(maxAbsDiff(video.frames[t + 1].data, r.image.data)).toBeLessThan(chainTolerance);
      expect(maxAbsDiff(video.masks[t + 1].data, r.mask.data)).toBeLessThan(chainTolerance);
    });
  });

  it("propagateMasks from key frame 0 follows the PyTorch mask chain", async () => {
    const result = await propagateMasks(generator, ref.frames, [{ index: 0, mask: ref.mask }]);
    expect(result.steps).toBe(ref.chain.length);
    ref.chain.forEach((m, t) => {
      expect(maxAbsDiff(result.masks[t + 1].data, m.data)).toBeLessThan(chainTolerance);
    });
  });

  it("propagateStream yields the same masks as the chain", async () => {
    const masks: Mask[] = [];
    for await (const { index, mask } of propagateStream(generator, ref.frames, ref.mask)) {
      expect(index).toBe(masks.length);
      masks.push(mask);
    }
    expect(masks).toHaveLength(ref.frames.length);
    ref.chain.forEach((m, t) => {
      expect(maxAbsDiff(masks[t + 1].data, m.data)).toBeLessThan(chainTolerance);
    });
  });
});

describe("a mask_refine generator's motion mask", () => {
  it("is a third output, differs from the corrected mask, and is what generateFromStill feeds back", async () => {
    const generator = await loadGenerator(join(fixtures.nextWarp3, "model.onnx"));
    try {
      const ref = await readReference(fixtures.nextWarp3);
      expect(generator.hasMotionMask).toBe(true);
      const corrected = await generator.stepMask(ref.image, ref.mask, ref.nextFrame);
      const motion = await generator.stepMotionMask(ref.image, ref.mask, ref.nextFrame);
      // the fixture's correction head is randomised, so the two masks differ visibly
      expect(maxAbsDiff(corrected.data, motion.data)).toBeGreaterThan(1e-2);
      const video = await generateFromStill(generator, ref.image, ref.mask, { steps: 1 });
      const predicted = await generator.step(ref.image, ref.mask, ref.image);
      const expected = await generator.stepMotionMask(ref.image, ref.mask, predicted.image);
      expect(maxAbsDiff(video.masks[1].data, expected.data)).toBe(0);
    } finally {
      await generator.dispose();
    }
  });
});

describe("the collapse guard in the exported graph", () => {
  it("keeps the carried (motion) mask where the correction erases it, along a whole chain", async () => {
    const generator = await loadGenerator(join(fixtures.nextWarpErasing3, "model.onnx"));
    try {
      const ref = await readReference(fixtures.nextWarpErasing3);
      const corrected = await generator.stepMask(ref.image, ref.mask, ref.nextFrame);
      const motion = await generator.stepMotionMask(ref.image, ref.mask, ref.nextFrame);
      expect(motion.data.reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
      expect(maxAbsDiff(corrected.data, motion.data)).toBe(0);
      // every step of a chain: the mask carried from the previous one, never the erased one
      const result = await propagateMasks(generator, ref.frames, [{ index: 0, mask: ref.mask }]);
      for (let t = 0; t + 1 < ref.frames.length; t++) {
        const carried = await generator.stepMotionMask(ref.frames[t], result.masks[t], ref.frames[t + 1]);
        expect(carried.data.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.5);
        expect(maxAbsDiff(result.masks[t + 1].data, carried.data)).toBe(0);
      }
    } finally {
      await generator.dispose();
    }
  });
});

describe("a mask-only export (no next_image output, no image branch)", () => {
  it("propagates the same masks as the full model, and refuses to predict frames", async () => {
    const generator = await loadGenerator(join(fixtures.nextWarp3, "model.masks.onnx"));
    try {
      const ref = await readReference(fixtures.nextWarp3);
      expect(generator.hasImageOutput).toBe(false);
      expect(generator.hasMotionMask).toBe(true);
      const result = await propagateMasks(generator, ref.frames, [{ index: 0, mask: ref.mask }]);
      ref.chain.forEach((m, t) => {
        expect(maxAbsDiff(result.masks[t + 1].data, m.data)).toBeLessThan(WARP_CHAIN_TOLERANCE);
      });
      const mask = await generator.stepMask(ref.image, ref.mask, ref.nextFrame);
      expect(maxAbsDiff(mask.data, ref.step.mask.data)).toBeLessThan(TOLERANCE);
      await expect(generator.step(ref.image, ref.mask, ref.nextFrame)).rejects.toMatchObject({
        code: Code.FAILED_PRECONDITION,
        message: expect.stringContaining("exported mask-only"),
      });
      await expect(generateFromStill(generator, ref.image, ref.mask, { steps: 1 })).rejects.toThrow(
        /exported mask-only/,
      );
    } finally {
      await generator.dispose();
    }
  });
});
