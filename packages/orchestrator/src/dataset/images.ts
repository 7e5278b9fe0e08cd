/**
 * Pixel readers and writers for dataset frames and masks (docs/dataset-format.md, "Images").
 * Mirrors stillmotion_trainer/data/images.py: same colour rules, same binary-mask rule, same
 * reason codes. The only module of the dataset layer that imports sharp.
 */
import { stat } from "node:fs/promises";
import { encodePng } from "@stillmotion/inference/image-io";
import sharp from "sharp";
import { DatasetError, errorMessage } from "./errors.js";
import { MAX_PIXELS } from "./manifest.js";
import { atomicWrite } from "./write.js";

/** Mask pixels strictly between these are "ambiguous" (Python: AMBIGUOUS_LOW/HIGH). */
export const AMBIGUOUS_LOW = 32;
export const AMBIGUOUS_HIGH = 223;
export const MAX_AMBIGUOUS_FRACTION = 0.01;
export const MASK_THRESHOLD = 128;

/** Interleaved 8-bit pixels (H x W x C). */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** What a file header says, before decoding. */
export interface ImageInfo {
  format: string;
  width: number;
  height: number;
  /** Colour channels without alpha. */
  channels: number;
  hasAlpha: boolean;
  isPalette: boolean;
  bitDepth: 8 | 16;
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Header of an image file; missing, undecodable and oversized files are DatasetErrors. */
export async function imageInfo(file: string): Promise<ImageInfo> {
  if (!(await exists(file))) throw new DatasetError("missing_file", file, "file not found");
  let meta: sharp.Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (cause) {
    throw new DatasetError("unreadable_image", file, `cannot decode image: ${errorMessage(cause)}`, {
      cause,
    });
  }
  const { width = 0, height = 0 } = meta;
  if (width < 1 || height < 1) throw new DatasetError("bad_dimensions", file, `image is ${width}x${height}`);
  if (width * height > MAX_PIXELS) {
    throw new DatasetError("bad_dimensions", file, `image is ${width}x${height}, above ${MAX_PIXELS} pixels`);
  }
  const total = meta.channels ?? 0;
  const hasAlpha = Boolean(meta.hasAlpha);
  return {
    format: meta.format ?? "unknown",
    width,
    height,
    channels: total - (hasAlpha ? 1 : 0),
    hasAlpha,
    isPalette: Boolean(meta.isPalette),
    bitDepth: meta.depth === "ushort" ? 16 : 8,
  };
}

/**
 * Decode a file to 8-bit pixels with `channels` channels (1: grey, 3: RGB). `convert` allows
 * colour conversion (importers); without it the file must already have that layout (loaders).
 */
export async function readPixels(
  file: string,
  channels: 1 | 3,
  convert = false,
  what = "image",
): Promise<Pixels> {
  const info = await imageInfo(file);
  if (!convert && (info.channels !== channels || info.hasAlpha || info.isPalette)) {
    const has = `${info.channels} colour channel(s)${info.hasAlpha ? " + alpha" : ""}${info.isPalette ? " (palette)" : ""}`;
    throw new DatasetError(
      "wrong_channels",
      file,
      what === "mask"
        ? `mask has ${has}; masks must be single-channel (greyscale)`
        : `image has ${has}, does not match channels=${channels}`,
    );
  }
  let pipeline = sharp(file).removeAlpha();
  pipeline =
    channels === 1 ? pipeline.toColourspace("b-w").extractChannel(0) : pipeline.toColourspace("srgb");
  try {
    const { data, info: out } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (out.channels !== channels) throw new Error(`decoder returned ${out.channels} channels`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: out.width,
      height: out.height,
      channels,
    };
  } catch (cause) {
    throw new DatasetError("unreadable_image", file, `cannot decode image: ${errorMessage(cause)}`, {
      cause,
    });
  }
}

/** Frame as planar float32 (C x H x W) in 0..1 (Python: load_frame). */
export async function loadFrame(
  file: string,
  channels: 1 | 3,
): Promise<{ data: Float32Array; channels: number; height: number; width: number }> {
  const px = await readPixels(file, channels);
  const plane = px.width * px.height;
  const out = new Float32Array(channels * plane);
  for (let i = 0; i < plane; i++)
    for (let k = 0; k < channels; k++) out[k * plane + i] = px.data[i * channels + k] / 255;
  return { data: out, channels, height: px.height, width: px.width };
}

/** Why 8-bit mask values are not binary, or undefined when they are (Python: mask_problem). */
export function maskProblem(values: Uint8Array, maxAmbiguous = MAX_AMBIGUOUS_FRACTION): string | undefined {
  let max = 0;
  let ambiguous = 0;
  for (const v of values) {
    if (v > max) max = v;
    if (v > AMBIGUOUS_LOW && v < AMBIGUOUS_HIGH) ambiguous++;
  }
  if (values.length && max === 1)
    return "mask uses values 0/1; masks must use 0 (background) and 255 (lesion)";
  const fraction = ambiguous / Math.max(values.length, 1);
  if (fraction > maxAmbiguous) {
    return (
      `mask is not binary: ${(fraction * 100).toFixed(1)}% of pixels lie between ${AMBIGUOUS_LOW} and ` +
      `${AMBIGUOUS_HIGH} (at most ${(maxAmbiguous * 100).toFixed(0)}% allowed; 0 = background, 255 = lesion)`
    );
  }
  return undefined;
}

/** Mask as float32 H*W in {0, 1}; must be single-channel and binary (Python: load_mask). */
export async function loadMask(file: string): Promise<{ data: Float32Array; height: number; width: number }> {
  const px = await readPixels(file, 1, false, "mask");
  const problem = maskProblem(px.data);
  if (problem) throw new DatasetError("mask_not_binary", file, problem);
  const out = new Float32Array(px.data.length);
  for (let i = 0; i < out.length; i++) out[i] = px.data[i] >= MASK_THRESHOLD ? 1 : 0;
  return { data: out, height: px.height, width: px.width };
}

/** Write pixels as a PNG, atomically (the one PNG encoder: @stillmotion/inference's image-io). */
export async function writePng(file: string, px: Pixels): Promise<void> {
  await atomicWrite(file, await encodePng(px));
}
