/**
 * Where the inference pipelines get their inputs: stills (image + optional lesion mask) from a
 * dataset or a folder, and videos with key-frame masks from a dataset.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { type FloatImage, type KeyFrame, type Mask, readImage, readMask } from "@stillmotion/inference";
import { keyIndices, loadManifest } from "../dataset/index.js";
import { Code, StillMotionError } from "../errors.js";

export interface StillInput {
  id: string;
  image: string;
  mask?: string;
}

export interface VideoInput {
  id: string;
  fps: number;
  frames: FloatImage[];
  keyframes: KeyFrame[];
  /** Ground-truth masks where the dataset has them (for reports), by frame index. */
  gtMasks: Array<Mask | undefined>;
}

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"]);

/**
 * Stills from a dataset (each video's first key frame, else its first frame, with that frame's
 * key or ground-truth mask) or from a folder (`images/` + optional `masks/` with the same names,
 * or image files directly in the folder).
 */
export async function listStills(input: string): Promise<StillInput[]> {
  if (existsSync(join(input, "manifest.json")) || input.endsWith(".json")) {
    const manifest = await loadManifest(input);
    return manifest.data.videos.map((video) => {
      const keys = keyIndices(video);
      const frame = video.frames[keys[0] ?? 0];
      const mask = frame.keyMask ?? frame.gtMask;
      return {
        id: video.id,
        image: join(manifest.root, frame.image),
        mask: mask ? join(manifest.root, mask) : undefined,
      };
    });
  }
  const imagesDir = existsSync(join(input, "images")) ? join(input, "images") : input;
  const masksDir = join(input, "masks");
  if (!existsSync(imagesDir)) throw new StillMotionError(Code.NOT_FOUND, `${input}: no such folder`);
  const files = readdirSync(imagesDir)
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
    .sort();
  if (!files.length) throw new StillMotionError(Code.INVALID_ARGUMENT, `${imagesDir}: no image files`);
  return files.map((f) => {
    const id = basename(f, extname(f)).replace(/[^A-Za-z0-9._-]/g, "_");
    const maskFile = existsSync(masksDir)
      ? readdirSync(masksDir).find((m) => basename(m, extname(m)) === basename(f, extname(f)))
      : undefined;
    return { id, image: join(imagesDir, f), mask: maskFile ? join(masksDir, maskFile) : undefined };
  });
}

/** Every video of a dataset with its key-frame masks (videos without one are refused). */
export async function loadVideos(dataset: string, channels: 1 | 3): Promise<VideoInput[]> {
  const manifest = await loadManifest(dataset);
  const out: VideoInput[] = [];
  for (const video of manifest.data.videos) {
    const frames: FloatImage[] = [];
    const gtMasks: Array<Mask | undefined> = [];
    const keyframes: KeyFrame[] = [];
    for (const [index, frame] of video.frames.entries()) {
      frames.push(await readImage(join(manifest.root, frame.image), { channels }));
      gtMasks.push(frame.gtMask ? await readMask(join(manifest.root, frame.gtMask)) : undefined);
      if (frame.keyMask) keyframes.push({ index, mask: await readMask(join(manifest.root, frame.keyMask)) });
    }
    if (!keyframes.length) {
      throw new StillMotionError(
        Code.FAILED_PRECONDITION,
        `${manifest.file}: video ${video.id} has no key-frame mask to propagate (run \`stillmotion keyframes --write\`)`,
      );
    }
    out.push({ id: video.id, fps: video.fps, frames, keyframes, gtMasks });
  }
  return out;
}
