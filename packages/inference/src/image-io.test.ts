// Image I/O through sharp: decode, channel handling, resize, encode, errors.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Code, InferenceError } from "./errors.js";
import { readImage, readMask, writeImagePng, writeMaskPng } from "./image-io.js";
import { binarizeMask, imageToPixels, maskToPixels, pixelsToImage } from "./image-types.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stillmotion-image-io-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** A 4x3 RGB PNG whose pixel (x, y) is (10x, 20y, 200). */
async function rgbPng(): Promise<Buffer> {
  const w = 4;
  const h = 3;
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([10 * x, 20 * y, 200], (y * w + x) * 3);
  }
  return sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

describe("image I/O", () => {
  it("decodes RGB to planar floats in 0..1", async () => {
    const img = await readImage(await rgbPng());
    expect([img.channels, img.height, img.width]).toEqual([3, 3, 4]);
    const plane = 12;
    // pixel (x=2, y=1): R = 20, G = 20, B = 200
    const i = 1 * 4 + 2;
    expect(img.data[i]).toBeCloseTo(20 / 255, 6);
    expect(img.data[plane + i]).toBeCloseTo(20 / 255, 6);
    expect(img.data[2 * plane + i]).toBeCloseTo(200 / 255, 6);
  });

  it("gives 1 channel for ultrasound and 3 from a greyscale file", async () => {
    const grey = await sharp(Buffer.from([0, 64, 128, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const one = await readImage(grey, { channels: 1 });
    expect(one.channels).toBe(1);
    expect(Array.from(one.data, (v) => Math.round(v * 255))).toEqual([0, 64, 128, 255]);
    const three = await readImage(grey, { channels: 3 });
    expect(three.channels).toBe(3);
    expect(three.data.slice(0, 4)).toEqual(three.data.slice(8, 12));
  });

  it("resizes frames, and masks with nearest neighbour so they stay binary", async () => {
    const img = await readImage(await rgbPng(), { width: 8, height: 6 });
    expect([img.height, img.width]).toEqual([6, 8]);
    const maskPng = await sharp(Buffer.from([0, 255, 255, 0, 0, 255, 0, 255, 0]), {
      raw: { width: 3, height: 3, channels: 1 },
    })
      .png()
      .toBuffer();
    const mask = await readMask(maskPng, { width: 7, height: 5 });
    expect([mask.height, mask.width]).toEqual([5, 7]);
    expect(new Set(mask.data)).toEqual(new Set([0, 1]));
  });

  it("round-trips 8-bit images and masks through PNG files", async () => {
    const img = await readImage(await rgbPng());
    await writeImagePng(join(dir, "a.png"), img);
    expect(imageToPixels(await readImage(join(dir, "a.png"))).data).toEqual(imageToPixels(img).data);
    const soft = { data: Float32Array.from([0.1, 0.49, 0.5, 0.9]), height: 2, width: 2 };
    await writeMaskPng(join(dir, "m.png"), soft, 0.5);
    const meta = await sharp(join(dir, "m.png")).metadata();
    expect([meta.channels, meta.space]).toEqual([1, "b-w"]); // masks are single-channel files
    expect(Array.from((await readMask(join(dir, "m.png"))).data)).toEqual([0, 0, 1, 1]);
    expect(Array.from(maskToPixels(soft).data)).toEqual([26, 125, 128, 229]); // 0.9 in float32 * 255 = 229.4999
    expect(Array.from(binarizeMask(soft).data)).toEqual([0, 0, 1, 1]);
  });

  it("pixelsToImage inverts imageToPixels", () => {
    const px = { data: Uint8Array.from([1, 2, 3, 4, 5, 6]), channels: 3, height: 1, width: 2 };
    expect(imageToPixels(pixelsToImage(px)).data).toEqual(px.data);
  });

  it("a missing file is NOT_FOUND, garbage is INVALID_ARGUMENT, both naming the file", async () => {
    const missing = join(dir, "nope.png");
    const e1 = await readImage(missing).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(InferenceError);
    expect((e1 as InferenceError).code).toBe(Code.NOT_FOUND);
    expect((e1 as InferenceError).file).toBe(missing);
    await writeFile(join(dir, "bad.png"), "not an image");
    const e2 = await readMask(join(dir, "bad.png")).catch((e: unknown) => e);
    expect((e2 as InferenceError).code).toBe(Code.INVALID_ARGUMENT);
    expect((e2 as Error).message).toMatch(/bad.png: cannot decode image file/);
    const e3 = await readImage(await rgbPng(), { width: 8 }).catch((e: unknown) => e);
    expect((e3 as Error).message).toMatch(/width\/height: expected both or neither/);
  });
});
