/**
 * fixed-border.ts: the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_fixed_border.py), the border and the fill against
 * hand-made stills, and a camera roll-out of the shipped real-still-to-video model through
 * onnxruntime that keeps the still's surround fixed.
 */
import { resolve } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CameraProfile, cameraField, samplePoses } from "./camera-motion.js";
import { fillBorder, findBorder, throughBorder } from "./fixed-border.js";
import { type Generator, loadGenerator } from "./generator.js";
import type { FloatImage, Mask } from "./image-types.js";
import { generateFromStill, sceneStep } from "./still-to-video.js";
import { compose, startComposed } from "./still-to-video-compose.js";

const SHARED_BORDER = [
  [1, 1, 1, 1, 0, 0, 1, 1, 1],
  [1, 1, 1, 1, 0, 0, 1, 1, 1],
  [1, 1, 1, 0, 0, 0, 0, 1, 1],
  [1, 1, 0, 0, 0, 0, 0, 0, 0],
  [1, 1, 0, 0, 0, 0, 0, 0, 0],
  [1, 1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1, 1, 1],
];
const SHARED_SOURCE = [
  [42, 41, 4, 5, 4, 5, 4, 5, 40],
  [29, 32, 31, 14, 13, 14, 13, 32, 35],
  [40, 39, 22, 21, 22, 23, 24, 23, 44],
  [31, 30, 29, 30, 31, 32, 33, 34, 35],
  [40, 39, 38, 39, 40, 41, 42, 43, 44],
  [31, 30, 29, 30, 31, 32, 33, 34, 35],
  [22, 21, 38, 21, 22, 23, 24, 43, 44],
];

/** The trainer test's `shared_still()`: a black surround with overlays, a dark spot in the view,
 * channel 2 = 0.0004 x the flat index. */
function sharedStill(): FloatImage {
  const [h, w] = [7, 9];
  const data = new Float32Array(3 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let g = x + y < 3 || w - 1 - x + y < 2 || y === h - 1 || x === 0 ? 0 : 0.6;
      if (y === 6 && x === 4) g = 0.9;
      if (y === 0 && x === 0) g = 0.8;
      if (y === 3 && x === 4) g = 0.01;
      data[i] = g;
      data[h * w + i] = 0.5 * g;
      data[2 * h * w + i] = 0.0004 * i;
    }
  }
  return { data, channels: 3, height: h, width: w };
}

const rows = (a: ArrayLike<number>, w: number) =>
  Array.from({ length: a.length / w }, (_, y) => Array.from(a).slice(y * w, (y + 1) * w));

/** A textured view inside a black frame `inset` px wide, white "text" on the frame. */
function framed(h = 40, w = 48, inset = 6): FloatImage {
  const data = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = y >= inset && y < h - inset && x >= inset && x < w - inset;
        const text = y >= 1 && y < 3 && x >= 1 && x < 5;
        data[(c * h + y) * w + x] = text
          ? 1
          : inside
            ? 0.55 + 0.25 * Math.sin(x * 0.9 + c) * Math.cos(y * 0.7)
            : 0;
      }
    }
  }
  return { data, channels: 3, height: h, width: w };
}

describe("findBorder / fillBorder", () => {
  it("match the shared vectors", () => {
    const still = sharedStill();
    const border = findBorder(still);
    expect(rows(border, 9)).toEqual(SHARED_BORDER);
    const filled = fillBorder(still, border);
    const source = Array.from(filled.data.subarray(2 * 63), (v) => Math.round(v / 0.0004));
    expect(rows(source, 9)).toEqual(SHARED_SOURCE);
  });

  it("take the dark surround, its overlays and a one-pixel edge; nothing without a surround", () => {
    const still = framed();
    const border = findBorder(still);
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 48; x++) {
        expect(border[y * 48 + x]).toBe(y >= 7 && y < 33 && x >= 7 && x < 41 ? 0 : 1);
      }
    }
    expect(findBorder(still, 0).includes(1)).toBe(false);
    const lumen = { ...still, data: still.data.map(() => 0.5) };
    for (let c = 0; c < 3; c++)
      for (let y = 15; y < 20; y++) lumen.data.fill(0, (c * 40 + y) * 48 + 20, (c * 40 + y) * 48 + 25);
    expect(findBorder(lumen).includes(1)).toBe(false); // dark, but not touching the edge
  });

  it("fill reflects the view about its nearest edge pixel", () => {
    const [h, w] = [6, 10];
    const data = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w - 3; x++) data[y * w + x] = 0.2 + 0.05 * x;
    const still: FloatImage = { data, channels: 1, height: h, width: w };
    const border = findBorder(still);
    const edge = w - 5; // the last view column (the 3 dark columns grown by one)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) expect(border[y * w + x]).toBe(x > edge ? 1 : 0);
    const filled = fillBorder(still, border);
    for (let y = 0; y < h; y++) {
      for (let x = edge + 1; x < w; x++) expect(filled.data[y * w + x]).toBe(data[y * w + 2 * edge - x]);
    }
  });
});

describe("generateFromStill with a camera and a fixed border (shipped real-still-to-video model)", () => {
  let generator: Generator;
  const still = framed();
  const [h, w] = [40, 48];
  const mask: Mask = {
    data: Float32Array.from({ length: h * w }, (_, i) =>
      Math.abs((i % w) - 24) < 6 && Math.abs(i / w - 20) < 5 ? 1 : 0,
    ),
    height: h,
    width: w,
  };
  const camera: CameraProfile = {
    shift_std: 0.05,
    log_zoom_std: 0.05,
    rotation_std: 0.05,
    revert: 0.8,
    rest_zoom: 1,
  };

  beforeAll(async () => {
    generator = await loadGenerator(resolve(import.meta.dirname, "../../../models/real-still-to-video.onnx"));
  }, 60_000);
  afterAll(async () => {
    await generator?.dispose();
  });

  it("moves the filled scene behind the still's surround, which stays exactly the still", async () => {
    const clip = await generateFromStill(generator, still, mask, {
      steps: 3,
      camera,
      seed: 2,
      residualScale: 0,
    });
    const border = findBorder(still);
    const poses = samplePoses(camera, 4, h, 2);
    let scene = startComposed(fillBorder(still, border), throughBorder(still, mask, still, border).mask);
    expect(clip.frames[0]).toBe(still);
    for (let t = 1; t <= 3; t++) {
      const { field, residual } = await generator.stepField(scene.image, scene.mask);
      // under a camera the scene keeps its step less what the camera owns (sceneStep)
      scene = compose(scene, sceneStep(field, "incompressible"), residual.fill(0));
      const view = compose(scene, cameraField(poses[t], h, w), new Float32Array(residual.length));
      const expected = throughBorder(view.image, view.mask, still, border);
      expect(clip.frames[t].data).toEqual(expected.image.data);
      expect(clip.masks[t].data).toEqual(expected.mask.data);
      for (let i = 0; i < h * w; i++) {
        if (!border[i]) continue;
        expect(clip.masks[t].data[i]).toBe(0);
        for (let c = 0; c < 3; c++)
          expect(clip.frames[t].data[c * h * w + i]).toBe(still.data[c * h * w + i]);
      }
    }
  });

  it("borderThreshold 0 moves the surround too; without a camera it is refused", async () => {
    const clip = await generateFromStill(generator, still, mask, {
      steps: 2,
      camera,
      seed: 2,
      borderThreshold: 0,
    });
    const border = findBorder(still);
    const changed = Array.from(border).some((b, i) => b === 1 && clip.frames[2].data[i] !== still.data[i]);
    expect(changed).toBe(true);
    await expect(generateFromStill(generator, still, mask, { borderThreshold: 0.1 })).rejects.toThrow(
      /borderThreshold/,
    );
    await expect(generateFromStill(generator, still, mask, { camera, borderThreshold: 1 })).rejects.toThrow(
      /borderThreshold/,
    );
  });
});
