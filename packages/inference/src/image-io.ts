/**
 * The one module that decodes, resizes and encodes images (with sharp/libvips): files or
 * buffers <-> FloatImage / Mask. Frames are resized with Lanczos, masks with nearest neighbour
 * so a binary mask stays binary.
 */
import sharp from "sharp";

import { Code, InferenceError, invalidArgument } from "./errors.js";
import { writeFileAtomic } from "./fs-atomic.js";
import {
  type FloatImage,
  imageToPixels,
  type Mask,
  maskToPixels,
  pixelsToImage,
  pixelsToMask,
  type RawPixels,
} from "./image-types.js";

export interface ReadOptions {
  /** Resize to this size (both or neither); default: keep the file's size. */
  width?: number;
  height?: number;
  /** How the aspect ratio is handled when resizing (sharp's fit); default "fill" (stretch). */
  fit?: "fill" | "cover" | "contain";
}

export interface ReadImageOptions extends ReadOptions {
  /** 1 (grayscale, ultrasound) or 3 (RGB, endoscopy); alpha is always dropped. Default 3. */
  channels?: 1 | 3;
}

type Source = string | Uint8Array;

/** Decode an image file or buffer (PNG, JPEG, WebP, ...) to a planar float image in 0..1. */
export async function readImage(source: Source, options: ReadImageOptions = {}): Promise<FloatImage> {
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw invalidArgument("channels", channels, "1 or 3");
  return pixelsToImage(await decode(source, channels, options, "lanczos3"));
}

/** Decode a mask image (0 background, 255 lesion; any intermediate value is a soft mask). */
export async function readMask(source: Source, options: ReadOptions = {}): Promise<Mask> {
  return pixelsToMask(await decode(source, 1, options, "nearest"));
}

/** Decode to interleaved 8-bit pixels with exactly `channels` channels. */
export async function decode(
  source: Source,
  channels: 1 | 3,
  options: ReadOptions = {},
  kernel: "nearest" | "lanczos3" = "lanczos3",
): Promise<RawPixels> {
  const { width, height } = options;
  if ((width === undefined) !== (height === undefined)) {
    throw invalidArgument("width/height", `${width}/${height}`, "both or neither");
  }
  for (const [name, v] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw invalidArgument(name, v, "an integer >= 1");
  }
  const file = typeof source === "string" ? source : undefined;
  try {
    let img = sharp(source, { failOn: "error" }).removeAlpha();
    img = channels === 1 ? img.toColourspace("b-w") : img.toColourspace("srgb");
    if (width !== undefined && height !== undefined) {
      img = img.resize(width, height, { fit: options.fit ?? "fill", kernel });
    }
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) {
      throw new InferenceError(Code.INTERNAL, `decoded ${info.channels} channels, expected ${channels}`, {
        file,
      });
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      channels,
      height: info.height,
      width: info.width,
    };
  } catch (cause) {
    if (cause instanceof InferenceError) throw cause;
    const what = file === undefined ? "image buffer" : "image file";
    const code =
      (cause as NodeJS.ErrnoException)?.code === "ENOENT" || /missing|not exist/i.test(String(cause))
        ? Code.NOT_FOUND
        : Code.INVALID_ARGUMENT;
    throw new InferenceError(code, `cannot decode ${what}: ${(cause as Error)?.message ?? cause}`, {
      file: file ?? "<buffer>",
      cause,
    });
  }
}

/** Resize interleaved pixels (sharp, Lanczos or nearest). */
export async function resizePixels(
  pixels: RawPixels,
  width: number,
  height: number,
  kernel: "nearest" | "lanczos3" = "lanczos3",
): Promise<RawPixels> {
  const { data, info } = await sharp(pixels.data, {
    raw: { width: pixels.width, height: pixels.height, channels: pixels.channels as 1 | 3 | 4 },
  })
    .resize(width, height, { fit: "fill", kernel })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    channels: info.channels,
    height,
    width,
  };
}

/** Resize a float image (round-trips through 8 bits, as any decoded frame has). */
export async function resizeImage(image: FloatImage, width: number, height: number): Promise<FloatImage> {
  return pixelsToImage(await resizePixels(imageToPixels(image), width, height));
}

/**
 * Encode interleaved pixels as PNG; 1-channel pixels become a greyscale PNG (sharp would
 * otherwise write RGB, which the dataset format refuses for masks). `fast` trades size for speed.
 */
export async function encodePng(pixels: RawPixels, fast = false): Promise<Buffer> {
  let img = sharp(pixels.data, {
    raw: { width: pixels.width, height: pixels.height, channels: pixels.channels as 1 | 3 | 4 },
  });
  if (pixels.channels === 1) img = img.toColourspace("b-w");
  return img.png({ compressionLevel: fast ? 1 : 6 }).toBuffer();
}

/** Write a float image as PNG, atomically. */
export async function writeImagePng(path: string, image: FloatImage): Promise<void> {
  await writeFileAtomic(path, await encodePng(imageToPixels(image)));
}

/** Write a mask as a single-channel PNG, atomically; `threshold` binarises it to 0/255. */
export async function writeMaskPng(path: string, mask: Mask, threshold?: number): Promise<void> {
  await writeFileAtomic(path, await encodePng(maskToPixels(mask, threshold)));
}
