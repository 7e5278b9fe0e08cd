// Per-clip quality numbers and the contact sheet, each against an independent computation.
import type { FloatImage, Mask } from "@stillmotion/inference";
import { describe, expect, it } from "vitest";

import { contactSheetPixels, outline, sheetFrames } from "./contact-sheet.js";
import {
  areaRatio,
  clipQuality,
  colourDrift,
  consecutiveSsim,
  laplacianVariance,
  sharpnessRatio,
} from "./generation-quality.js";

function image(
  channels: number,
  height: number,
  width: number,
  f: (c: number, y: number, x: number) => number,
) {
  const data = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) data[(c * height + y) * width + x] = f(c, y, x);
  return { data, channels, height, width } as FloatImage;
}

function mask(height: number, width: number, inside: (y: number, x: number) => boolean): Mask {
  const data = new Float32Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = inside(y, x) ? 1 : 0;
  return { data, height, width };
}

const texture = (c: number, y: number, x: number) => 0.5 + 0.4 * Math.sin(0.9 * x + 1.7 * y + c);

describe("generation quality", () => {
  it("colour drift is the per-channel change of mean and population std", () => {
    const a = image(2, 1, 4, (c, _y, x) => [0.1, 0.2, 0.3, 0.4][x] + c * 0.1);
    const b = image(2, 1, 4, (c, _y, x) => [0.0, 0.0, 1.0, 1.0][x] * (c + 1) * 0.5);
    const d = colourDrift(a, b);
    // by hand: a0 mean 0.25 std sqrt(0.0125); b0 = [0, 0, .5, .5] mean 0.25 std 0.25
    expect(d.mean[0]).toBeCloseTo(0, 7);
    expect(d.std[0]).toBeCloseTo(0.25 - Math.sqrt(0.0125), 6);
    // a1 mean 0.35 std sqrt(0.0125); b1 = [0, 0, 1, 1] mean 0.5 std 0.5
    expect(d.mean[1]).toBeCloseTo(0.15, 6);
    expect(d.std[1]).toBeCloseTo(0.5 - Math.sqrt(0.0125), 6);
  });

  it("Laplacian variance of a single bright pixel, by hand", () => {
    // 5x5 zeros with g(2, 2) = 1: interior 3x3 Laplacian = -4 at the centre, 1 at its 4
    // neighbours, 0 at the corners -> mean 0, variance (16 + 4) / 9
    const img = image(1, 5, 5, (_c, y, x) => (y === 2 && x === 2 ? 1 : 0));
    expect(laplacianVariance(img)).toBeCloseTo(20 / 9, 6);
    expect(sharpnessRatio(img, img)).toBeCloseTo(1, 9);
    expect(
      sharpnessRatio(
        image(1, 5, 5, () => 0.3),
        img,
      ),
    ).toBeNull();
  });

  it("consecutive SSIM is 1 for a copy and lower for a shift", () => {
    const a = image(3, 24, 24, texture);
    const shifted = image(3, 24, 24, (c, y, x) => texture(c, y, x + 3));
    const values = consecutiveSsim([a, a, shifted]);
    expect(values).toHaveLength(2);
    expect(values[0]).toBeCloseTo(1, 6);
    expect(values[1]).toBeLessThan(0.9);
  });

  it("area ratio counts pixels at 0.5 and is null for an empty still mask", () => {
    const a = mask(10, 10, (y, x) => y < 4 && x < 4); // 16
    const b = mask(10, 10, (y, x) => y < 4 && x < 6); // 24
    expect(areaRatio(a, b)).toBeCloseTo(1.5, 9);
    expect(
      areaRatio(
        mask(4, 4, () => false),
        b,
      ),
    ).toBeNull();
  });

  it("clipQuality scores the last frame against the still", () => {
    const still = image(3, 16, 16, texture);
    const dim = image(3, 16, 16, (c, y, x) => texture(c, y, x) * 0.9);
    const m = mask(16, 16, (y, x) => y > 4 && y < 10 && x > 4 && x < 12);
    const q = clipQuality([still, still, dim], [m, m, m]);
    expect(q.consecutiveSsim[0]).toBeCloseTo(1, 6);
    expect(q.areaRatio).toBe(1);
    expect(q.sharpnessRatio).toBeCloseTo(0.81, 4); // the Laplacian is linear: 0.9^2
    expect(q.colourDriftMax).toBeCloseTo(Math.max(...q.colourDrift.mean, ...q.colourDrift.std), 12);
  });
});

describe("contact sheet", () => {
  it("picks evenly spaced frames, first and last included", () => {
    expect(sheetFrames(17, 9)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16]);
    expect(sheetFrames(3, 9)).toEqual([0, 1, 2]);
  });

  it("outlines the lesion's border pixels only", () => {
    const m = mask(5, 5, (y, x) => y >= 1 && y <= 3 && x >= 1 && x <= 3);
    const edge = Array.from(outline(m));
    const expected = Array.from(m.data, (v, i) => (v && i !== 12 ? 1 : 0)); // all but the centre
    expect(edge).toEqual(expected);
  });

  it("lays frames side by side with white gaps and the outline in colour", () => {
    const frames = [0.2, 0.4, 0.6].map((v) => image(1, 4, 3, () => v));
    const masks = frames.map(() => mask(4, 3, (y, x) => y === 1 && x === 1));
    const sheet = contactSheetPixels(frames, masks, { gap: 1, color: [0, 255, 0] });
    expect([sheet.width, sheet.height, sheet.channels]).toEqual([3 * 3 + 2, 4, 3]);
    const px = (y: number, x: number) =>
      Array.from(sheet.data.subarray((y * 11 + x) * 3, (y * 11 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([51, 51, 51]);
    expect(px(0, 3)).toEqual([255, 255, 255]); // gap
    expect(px(0, 8)).toEqual([153, 153, 153]);
    expect(px(1, 5)).toEqual([0, 255, 0]); // frame 1's lesion pixel (a lone pixel is its own edge)
  });
});
