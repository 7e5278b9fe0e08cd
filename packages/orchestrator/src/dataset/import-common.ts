/**
 * Shared importer steps: list image files in a natural order, turn a foreign mask into a
 * dataset mask (explicit threshold, named errors), build video entries, write the dataset.
 */
import { copyFile, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { DatasetError } from "./errors.js";
import { AMBIGUOUS_HIGH, AMBIGUOUS_LOW, imageInfo, type Pixels, readPixels, writePng } from "./images.js";
import type { FrameEntry, ManifestData, Modality, VideoEntry } from "./manifest.js";
import { writeDataset } from "./write.js";

export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"];
/** Import-time tolerance for ambiguous mask pixels: JPEG masks ring at their edges. */
export const IMPORT_MAX_AMBIGUOUS = 0.05;

/** Options every importer shares. */
export interface CommonImportOptions {
  out: string;
  name?: string;
  modality?: Modality;
  /** 3 = RGB, 1 = greyscale; default 3 for endoscopy, 1 for ultrasound. */
  channels?: 1 | 3;
  overwrite?: boolean;
  /** Mask pixel >= threshold is lesion (default 128; 1 for 0/1 masks). */
  maskThreshold?: number;
}

export function resolveChannels(o: CommonImportOptions, fallback: Modality = "endoscopy"): [Modality, 1 | 3] {
  const modality = o.modality ?? fallback;
  const channels = o.channels ?? (modality === "ultrasound" ? 1 : 3);
  if (channels !== 1 && channels !== 3) {
    throw new DatasetError("unsupported_input", "--channels", `channels must be 1 or 3, got ${channels}`);
  }
  return [modality, channels];
}

/** "frame2" < "frame10": compare digit runs as numbers. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true, sensitivity: "base" }) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Image files of a folder (not recursive), natural order; an empty folder is an error. */
export async function listImages(dir: string, what = "images"): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw new DatasetError("missing_file", dir, `cannot read ${what} folder`, { cause });
  }
  const images = names.filter(
    (n) => !n.startsWith(".") && IMAGE_EXTENSIONS.includes(path.extname(n).toLowerCase()),
  );
  if (images.length === 0) {
    throw new DatasetError("missing_file", dir, `no ${what} (${IMAGE_EXTENSIONS.join(", ")}) in folder`);
  }
  return images.sort(naturalCompare);
}

export function stem(file: string): string {
  return path.basename(file, path.extname(file));
}

/** A video id from a file or folder name: disallowed characters become '-'. */
export function toVideoId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  if (!id) throw new DatasetError("unsupported_input", name, "cannot derive a video id from this name");
  return id.slice(0, 128);
}

/**
 * Threshold a foreign mask file into 0/255 pixels. The file may be RGB (its luminance is used)
 * but must be nearly binary: grey or photo-like files, and 0/1 masks at the default threshold,
 * are errors naming the file.
 */
export async function importMask(file: string, threshold = 128): Promise<Pixels> {
  const px = await readPixels(file, 1, true);
  let ambiguous = 0;
  let max = 0;
  for (const v of px.data) {
    if (v > max) max = v;
    if (v > AMBIGUOUS_LOW && v < AMBIGUOUS_HIGH) ambiguous++;
  }
  if (threshold > 1 && max === 1) {
    throw new DatasetError(
      "mask_not_binary",
      file,
      "mask uses values 0/1; pass --mask-threshold 1 to import it",
    );
  }
  const fraction = ambiguous / px.data.length;
  if (threshold > 1 && fraction > IMPORT_MAX_AMBIGUOUS) {
    throw new DatasetError(
      "mask_not_binary",
      file,
      `mask is not binary: ${(fraction * 100).toFixed(1)}% of pixels lie between ${AMBIGUOUS_LOW} and ` +
        `${AMBIGUOUS_HIGH} (importers accept at most ${IMPORT_MAX_AMBIGUOUS * 100}%)`,
    );
  }
  const out = new Uint8Array(px.data.length);
  for (let i = 0; i < out.length; i++) out[i] = px.data[i] >= threshold ? 255 : 0;
  return { ...px, data: out };
}

/**
 * Put a source frame into the dataset as `rel`: PNG/JPEG files that already have the right
 * layout are copied byte for byte (no re-compression); anything else is decoded, converted to
 * `channels` and written as PNG (rel's extension is then .png). Returns the relative path used.
 */
export async function importFrame(
  src: string,
  root: string,
  relStem: string,
  channels: 1 | 3,
): Promise<{ rel: string; width: number; height: number }> {
  const info = await imageInfo(src);
  const copyable =
    (info.format === "png" || info.format === "jpeg") &&
    info.channels === channels &&
    !info.hasAlpha &&
    !info.isPalette &&
    info.bitDepth === 8;
  if (copyable) {
    const rel = `${relStem}${info.format === "png" ? ".png" : ".jpg"}`;
    // decode once so a truncated file fails here, not in the middle of training
    await readPixels(src, channels);
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await copyFile(src, path.join(root, rel));
    return { rel, width: info.width, height: info.height };
  }
  const rel = `${relStem}.png`;
  const px = await readPixels(src, channels, true);
  await writePng(path.join(root, rel), px);
  return { rel, width: px.width, height: px.height };
}

/** Fail when a frame's size differs from the video's first frame. */
export function checkSameSize(
  file: string,
  size: { width: number; height: number },
  video: VideoEntry,
): void {
  if (size.width !== video.width || size.height !== video.height) {
    throw new DatasetError(
      "size_mismatch",
      file,
      `frame is ${size.width}x${size.height} but earlier frames of '${video.id}' are ${video.width}x${video.height}`,
    );
  }
}

/** Fail when a mask's size differs from its frame's. */
export function checkMaskSize(file: string, mask: Pixels, frameFile: string, video: VideoEntry): void {
  if (mask.width !== video.width || mask.height !== video.height) {
    throw new DatasetError(
      "size_mismatch",
      file,
      `mask is ${mask.width}x${mask.height} but its frame ${frameFile} is ${video.width}x${video.height}`,
    );
  }
}

export interface ImportResult {
  manifest: string;
  videos: number;
  frames: number;
  keyMasks: number;
  gtMasks: number;
}

/** Run an importer's `build` through writeDataset (staged, atomic) and summarise the result. */
export async function importDataset(
  options: CommonImportOptions,
  build: (stage: string) => Promise<ManifestData>,
): Promise<ImportResult> {
  const { manifest, data } = await writeDataset(options.out, options.overwrite, build);
  const frames = data.videos.flatMap((v) => v.frames);
  return {
    manifest,
    videos: data.videos.length,
    frames: frames.length,
    keyMasks: frames.filter((f: FrameEntry) => f.keyMask).length,
    gtMasks: frames.filter((f: FrameEntry) => f.gtMask).length,
  };
}
