/**
 * motion-scale.ts: the formulas on the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_motion_scale.py holds the same numbers), the factor and
 * the training size read from an export's run config. The roll-out at half size against PyTorch
 * is in still-to-video-warp.test.ts.
 */
import { describe, expect, it } from "vitest";

import { maxAbsDiff } from "../test/reference.js";
import { downForMotion, motionDownsample, trainingSize, upFromMotion } from "./motion-scale.js";

const SHARED_U_IN = [0.5, -1.0, 2.0, 0.25, -0.5, 1.5, 0.0, -2.0];
const SHARED_R_IN = [0.1, -0.1, 0.3, 0.0];
const SHARED_U_OUT = [
  [1.0, 0.25, -1.25, -2.0, 1.75, 0.96875, -0.59375, -1.375, 3.0, 2.0, 0.71875, -0.125],
  [0.0, 0.0, 2.0, 2.0, -0.75, -0.25, 0.75, 1.0, -0.25, -0.75, -1.75, -2.0],
].flat();
const SHARED_R_OUT = [0.05, 0.0, -0.1, -0.15, 0.1, 0.04375, -0.06875, -0.125, 0.2, 0.13125, -0.00625, -0.075];

describe("shared vectors (test_model_motion_scale.py)", () => {
  it("a 3x5 ramp down by 2, the last row and column repeated", () => {
    const ramp = { data: Float32Array.from({ length: 15 }, (_, i) => i), channels: 1, height: 3, width: 5 };
    const down = downForMotion(ramp, 2);
    expect([down.height, down.width]).toEqual([2, 3]);
    expect(Array.from(down.data)).toEqual([3, 5, 6.5, 10.5, 12.5, 14]);
  });

  it("a 2x2 step up by 2 to 3x4: displacements doubled, sources in the frame, residual mean 0", () => {
    const small = {
      field: { data: Float32Array.from(SHARED_U_IN), height: 2, width: 2 },
      residual: Float32Array.from(SHARED_R_IN),
    };
    const { field, residual } = upFromMotion(small, 2, 3, 4);
    expect([field.height, field.width]).toEqual([3, 4]);
    expect(maxAbsDiff(field.data, Float32Array.from(SHARED_U_OUT))).toBeLessThan(1e-6);
    expect(maxAbsDiff(residual, Float32Array.from(SHARED_R_OUT))).toBeLessThan(1e-6);
  });
});

describe("the factor", () => {
  it("is floor(max(H, W) / S), at least 1, 1 where the size is unknown", () => {
    expect(motionDownsample(64, 128, 128)).toBe(2);
    expect(motionDownsample(64, 102, 128)).toBe(2);
    expect(motionDownsample(64, 127, 100)).toBe(1);
    expect(motionDownsample(40, 128, 128)).toBe(3);
    expect(motionDownsample(256, 128, 128)).toBe(1);
    expect(motionDownsample(undefined, 512, 512)).toBe(1);
    for (const bad of [0, -64, 64.5]) expect(() => motionDownsample(bad, 128, 128)).toThrow(/trainingSize/);
  });

  it("reads data.size from a run config's JSON", () => {
    expect(trainingSize(JSON.stringify({ data: { size: 64, augment: true } }))).toBe(64);
    for (const config of [
      undefined,
      "{}",
      '{"data": {}}',
      '{"data": {"size": "64"}}',
      '{"data": {"size": 0}}',
      "not json",
    ]) {
      expect(trainingSize(config)).toBeUndefined();
    }
  });

  it("f = 1 leaves a frame and a step as they are; a bad factor is named", () => {
    const image = { data: new Float32Array(6), channels: 1, height: 2, width: 3 };
    expect(downForMotion(image, 1)).toBe(image);
    expect(() => downForMotion(image, 0)).toThrow(/motionDownsample/);
    expect(() => downForMotion(image, 1.5)).toThrow(/motionDownsample/);
  });
});
