/**
 * work-scale.ts: the two resampling formulas on the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_work_scale.py holds the same numbers) and against
 * their definitions; propagateMasks with `downsample` on real frames through onnxruntime: the
 * masks are the half-size propagation's, brought back to the frames' size; key frames keep theirs.
 */
import { join, resolve } from "node:path";

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { maxAbsDiff } from "../test/reference.js";
import { Code } from "./errors.js";
import { type Generator, loadGenerator } from "./generator.js";
import { readImage, readMask } from "./image-io.js";
import type { FloatImage, Mask } from "./image-types.js";
import { propagateMasks } from "./propagate.js";
import { propagateStream } from "./propagate-stream.js";
import { bilinearUp, boxDown, boxDownMask, checkDownsample } from "./work-scale.js";

const mask = (rows: number[][]): Mask => ({
  data: Float32Array.from(rows.flat()),
  height: rows.length,
  width: rows[0].length,
});
const rowsOf = (m: Mask): number[][] =>
  Array.from({ length: m.height }, (_, i) => Array.from(m.data.subarray(i * m.width, (i + 1) * m.width)));

describe("shared vectors (test_model_work_scale.py)", () => {
  it("box average down by 2", () => {
    const ramp = mask(Array.from({ length: 4 }, (_, i) => [0, 1, 2, 3].map((j) => 4 * i + j)));
    expect(rowsOf(boxDownMask(ramp, 2))).toEqual([
      [2.5, 4.5],
      [10.5, 12.5],
    ]);
  });

  it("bilinear up by 2, half-pixel centres", () => {
    expect(
      rowsOf(
        bilinearUp(
          mask([
            [0, 1],
            [2, 3],
          ]),
          2,
        ),
      ),
    ).toEqual([
      [0, 0.25, 0.75, 1],
      [0.5, 0.75, 1.25, 1.5],
      [1.5, 1.75, 2.25, 2.5],
      [2, 2.25, 2.75, 3],
    ]);
  });
});

describe("formulas", () => {
  it("box average per channel: each output is the mean of its 3x3 block", () => {
    const image: FloatImage = {
      data: Float32Array.from({ length: 2 * 6 * 9 }, (_, i) => Math.sin(i)),
      channels: 2,
      height: 6,
      width: 9,
    };
    const down = boxDown(image, 3);
    expect([down.channels, down.height, down.width]).toEqual([2, 2, 3]);
    let sum = 0;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) sum += image.data[54 + (3 + a) * 9 + 6 + b];
    expect(down.data[6 + 1 * 3 + 2]).toBeCloseTo(sum / 9, 6); // channel 1, row 1, column 2
  });

  it("up by 3 keeps a constant and interpolates between pixel centres", () => {
    expect(Array.from(bilinearUp(mask([[0.4, 0.4]]), 3).data).every((v) => Math.abs(v - 0.4) < 1e-7)).toBe(
      true,
    );
    const up = bilinearUp(mask([[0, 1]]), 3);
    expect([up.height, up.width]).toEqual([3, 6]);
    // s = (j + 1/2) / 3 - 1/2: -1/3 (clamped), 0, 1/3, 2/3, 1, 4/3 (the last pixel repeated)
    expect(rowsOf(up)[0].map((v) => Number(v.toFixed(4)))).toEqual([0, 0, 0.3333, 0.6667, 1, 1]);
  });

  it("a factor that does not divide the frame is named", () => {
    expect(() => checkDownsample(2, 20, 27)).toThrow(/downsample.*divides the frame size 20x27/);
    expect(() => checkDownsample(0, 20, 20)).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT }),
    );
  });
});

describe("propagateMasks at half size (the shipped model, split export, real frames)", () => {
  const CLIP = resolve(import.meta.dirname, "../../../data/real/vocalfolds-seq8-128");
  let generator: Generator;
  let frames: FloatImage[];
  let key: Mask;

  beforeAll(async () => {
    generator = await loadGenerator(inject("fixtures").realSplit);
    const names = Array.from({ length: 8 }, (_, i) => String(i * 3).padStart(6, "0"));
    frames = await Promise.all(names.map((n) => readImage(join(CLIP, "frames/seq8", `${n}.jpg`))));
    key = await readMask(join(CLIP, "gt/seq8", `${names[0]}.png`));
  });
  afterAll(async () => generator?.dispose());

  it("returns the half-size masks brought back to the frames' size; the key frame keeps its mask", async () => {
    const full = await propagateMasks(generator, frames, [{ index: 0, mask: key }], {
      reference: "key",
      downsample: 2,
    });
    const small = await propagateMasks(
      generator,
      frames.map((f) => boxDown(f, 2)),
      [{ index: 0, mask: boxDownMask(key, 2) }],
      { reference: "key" },
    );
    expect(full.steps).toBe(7);
    expect(full.masks[0]).toBe(key);
    for (let t = 1; t < frames.length; t++) {
      expect([full.masks[t].height, full.masks[t].width]).toEqual([frames[0].height, frames[0].width]);
      expect(full.masks[t].data).toEqual(bilinearUp(small.masks[t], 2).data);
    }
  });

  it("propagateStream at half size yields the masks of the chain at half size", async () => {
    const chain = await propagateMasks(generator, frames, [{ index: 0, mask: key }], { downsample: 2 });
    const streamed: Mask[] = [];
    for await (const { mask } of propagateStream(generator, frames, key, { downsample: 2 }))
      streamed.push(mask);
    expect(streamed[0]).toBe(key);
    expect(Math.max(...streamed.map((m, t) => maxAbsDiff(m.data, chain.masks[t].data)))).toBeLessThan(1e-5);
  });

  it("refuses a factor that does not divide the frames", async () => {
    await expect(
      propagateMasks(generator, frames, [{ index: 0, mask: key }], { downsample: 3 }),
    ).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining("downsample"),
    });
  });
});
