/**
 * The in-memory image and mask types every part of the package shares, and conversions between
 * them and the interleaved 8-bit pixels that image files hold.
 *
 * Images are planar (C x H x W, like the model's tensors) float32 in 0..1, so a frame goes to the
 * model without a copy; masks are 1 x H x W soft values in 0..1 (METHOD.md's M^_t).
 */
import { invalidArgument } from "./errors.js";

/** A C x H x W image, float32, values in 0..1 (C = 1 ultrasound, 3 endoscopy). */
export interface FloatImage {
  readonly data: Float32Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** A 1 x H x W soft mask, float32, values in 0..1 (0 background, 1 lesion). */
export interface Mask {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}

/** Interleaved 8-bit pixels (H x W x C), as sharp decodes and encodes them. */
export interface RawPixels {
  readonly data: Uint8Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export function createImage(channels: number, height: number, width: number, fill = 0): FloatImage {
  return { data: new Float32Array(channels * height * width).fill(fill), channels, height, width };
}

export function createMask(height: number, width: number, fill = 0): Mask {
  return { data: new Float32Array(height * width).fill(fill), height, width };
}

/** Check that `image` is a well-formed FloatImage; `what` names it in the error. */
export function checkImage(what: string, image: FloatImage, channels?: number): void {
  if (image == null || !(image.data instanceof Float32Array)) {
    throw invalidArgument(what, image, "a FloatImage with a Float32Array `data`");
  }
  const { channels: c, height: h, width: w } = image;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw invalidArgument(`${what}.height/width`, `${h}x${w}`, "positive integers");
  }
  if (channels !== undefined && c !== channels) {
    throw invalidArgument(`${what}.channels`, c, `${channels} (the model's channels)`);
  }
  if (image.data.length !== c * h * w) {
    throw invalidArgument(`${what}.data`, image.data, `length channels*height*width = ${c * h * w}`);
  }
}

/** Check that `mask` is a well-formed Mask of the given size. */
export function checkMask(what: string, mask: Mask, height: number, width: number): void {
  if (mask == null || !(mask.data instanceof Float32Array)) {
    throw invalidArgument(what, mask, "a Mask with a Float32Array `data`");
  }
  if (mask.height !== height || mask.width !== width) {
    throw invalidArgument(
      `${what} size`,
      `${mask.height}x${mask.width}`,
      `${height}x${width} (the frame's size)`,
    );
  }
  if (mask.data.length !== height * width) {
    throw invalidArgument(`${what}.data`, mask.data, `length height*width = ${height * width}`);
  }
}

/** Interleaved bytes (H x W x C) -> planar float image in 0..1. */
export function pixelsToImage(pixels: RawPixels): FloatImage {
  const { data, channels: c, height: h, width: w } = pixels;
  const out = new Float32Array(c * h * w);
  const plane = h * w;
  const scale = 1 / 255;
  if (c === 3) {
    // one pass over the interleaved bytes into three planes: 1.6x the generic loop (a camera
    // frame is converted on the thread that carries the masks)
    const [r, g, b] = [0, 1, 2].map((k) => out.subarray(k * plane, (k + 1) * plane));
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      r[i] = data[j] * scale;
      g[i] = data[j + 1] * scale;
      b[i] = data[j + 2] * scale;
    }
  } else {
    for (let i = 0; i < plane; i++) {
      for (let k = 0; k < c; k++) out[k * plane + i] = data[i * c + k] * scale;
    }
  }
  return { data: out, channels: c, height: h, width: w };
}

/** Planar float image in 0..1 -> interleaved bytes (rounded, clamped to 0..255). */
export function imageToPixels(image: FloatImage): RawPixels {
  const { data, channels: c, height: h, width: w } = image;
  const out = new Uint8Array(c * h * w);
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < c; k++) out[i * c + k] = toByte(data[k * plane + i]);
  }
  return { data: out, channels: c, height: h, width: w };
}

/**
 * Soft mask -> single-channel bytes. With `threshold` the mask is binarised first
 * (m >= threshold -> 255, else 0, the dataset format's convention); without, 0..1 -> 0..255.
 */
export function maskToPixels(mask: Mask, threshold?: number): RawPixels {
  const out = new Uint8Array(mask.height * mask.width);
  const d = mask.data;
  if (threshold === undefined) {
    for (let i = 0; i < d.length; i++) out[i] = toByte(d[i]);
  } else {
    for (let i = 0; i < d.length; i++) out[i] = d[i] >= threshold ? 255 : 0;
  }
  return { data: out, channels: 1, height: mask.height, width: mask.width };
}

/** Single-channel bytes -> soft mask in 0..1 (255 = lesion). */
export function pixelsToMask(pixels: RawPixels): Mask {
  if (pixels.channels !== 1) throw invalidArgument("mask pixels channels", pixels.channels, "1");
  const out = new Float32Array(pixels.data.length);
  for (let i = 0; i < out.length; i++) out[i] = pixels.data[i] / 255;
  return { data: out, height: pixels.height, width: pixels.width };
}

/** Binarise a soft mask: 1 where m >= threshold, else 0 (returns a new mask). */
export function binarizeMask(mask: Mask, threshold = 0.5): Mask {
  const out = new Float32Array(mask.data.length);
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i] >= threshold ? 1 : 0;
  return { data: out, height: mask.height, width: mask.width };
}

function toByte(v: number): number {
  const b = Math.round(v * 255);
  return Math.min(255, Math.max(0, b));
}
