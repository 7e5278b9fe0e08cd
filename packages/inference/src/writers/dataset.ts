/**
 * Writer: the project's dataset format, version 1 (docs/dataset-format.md), so generated videos
 * (Fig. 5) or propagated masks (Fig. 6) can train downstream models or StillMotion itself.
 *
 * Layout, as the format's convention: manifest.json, frames/<video>/000000.png,
 * masks/<video>/000000.png. Masks are written binary (0/255, thresholded at `maskThreshold`),
 * as the format requires. Generated masks go in `keyMask` (keySource "synthetic") and, by
 * default, also `gtMask` pointing to the same file, like the synthetic generator does: the
 * masks are the data's ground truth. Frames given a key frame source (e.g. the clinician's key
 * frames of a propagated video) keep it.
 *
 * The whole folder is written beside the target and renamed into place, so a reader never sees
 * a half-written dataset.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

import { Code, InferenceError, invalidArgument } from "../errors.js";
import { tempPathFor, writeFileAtomic } from "../fs-atomic.js";
import { encodePng } from "../image-io.js";
import {
  checkImage,
  checkMask,
  type FloatImage,
  imageToPixels,
  type Mask,
  maskToPixels,
} from "../image-types.js";

export const DATASET_FORMAT = "stillmotion-dataset";
export const DATASET_VERSION = 1;
const VIDEO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export type KeySource = "clinician" | "detector" | "synthetic";

export interface DatasetVideo {
  /** `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, unique in the dataset. */
  id: string;
  fps: number;
  frames: readonly FloatImage[];
  /** One mask per frame, or undefined for frames without one; default: no masks. */
  masks?: readonly (Mask | undefined)[];
  /** keySource per frame index for masks not made by the model (default "synthetic"). */
  keySources?: Readonly<Record<number, KeySource>>;
}

export interface DatasetOptions {
  name: string;
  modality: "endoscopy" | "ultrasound";
  description?: string;
  /** Free-form provenance (model file, preset, options); never read by training. */
  source?: Record<string, unknown>;
  /** Where masks go: "key" (keyMask), "gt" (gtMask) or "both" (default, same file). */
  maskFields?: "key" | "gt" | "both";
  /** Soft masks are binarised at this value; default 0.5. */
  maskThreshold?: number;
  /** Replace an existing folder at `dir`; default false (FAILED_PRECONDITION). */
  overwrite?: boolean;
}

export interface DatasetWriteResult {
  dir: string;
  manifest: string;
  videos: number;
  frames: number;
  masks: number;
}

interface ManifestFrame {
  image: string;
  keyMask?: string;
  keySource?: KeySource;
  gtMask?: string;
}

/** Write `videos` as a dataset folder at `dir` (created atomically). */
export async function writeDataset(
  dir: string,
  videos: readonly DatasetVideo[],
  options: DatasetOptions,
): Promise<DatasetWriteResult> {
  const channels = checkVideos(videos);
  const { name, modality } = options;
  if (typeof name !== "string" || name.length < 1 || name.length > 200) {
    throw invalidArgument("name", name, "a string of 1-200 characters");
  }
  if (modality !== "endoscopy" && modality !== "ultrasound") {
    throw invalidArgument("modality", modality, 'one of: "endoscopy", "ultrasound"');
  }
  const fields = options.maskFields ?? "both";
  if (!["key", "gt", "both"].includes(fields))
    throw invalidArgument("maskFields", fields, 'one of: "key", "gt", "both"');
  const threshold = options.maskThreshold ?? 0.5;
  if (!(threshold > 0 && threshold <= 1))
    throw invalidArgument("maskThreshold", threshold, "a number in (0, 1]");
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (exists && !options.overwrite) {
    throw new InferenceError(
      Code.FAILED_PRECONDITION,
      "folder already exists (pass overwrite: true to replace it)",
      {
        file: dir,
      },
    );
  }

  // 1. Write everything into a temporary sibling folder.
  const tmp = tempPathFor(dir);
  await mkdir(tmp, { recursive: true });
  let frameCount = 0;
  let maskCount = 0;
  try {
    const manifestVideos = [];
    for (const video of videos) {
      const frames: ManifestFrame[] = [];
      for (let i = 0; i < video.frames.length; i++) {
        const file = `${String(i).padStart(6, "0")}.png`;
        const image = `frames/${video.id}/${file}`;
        await writeFileAtomic(join(tmp, image), await encodePng(imageToPixels(video.frames[i])));
        const entry: ManifestFrame = { image };
        const mask = video.masks?.[i];
        if (mask) {
          const maskPath = `masks/${video.id}/${file}`;
          await writeFileAtomic(join(tmp, maskPath), await encodePng(maskToPixels(mask, threshold)));
          if (fields !== "gt") {
            entry.keyMask = maskPath;
            entry.keySource = video.keySources?.[i] ?? "synthetic";
          }
          if (fields !== "key") entry.gtMask = maskPath;
          maskCount++;
        }
        frames.push(entry);
        frameCount++;
      }
      const { width, height } = video.frames[0];
      manifestVideos.push({ id: video.id, fps: video.fps, width, height, frames });
    }
    const manifest = {
      format: DATASET_FORMAT,
      version: DATASET_VERSION,
      name,
      ...(options.description === undefined ? {} : { description: options.description }),
      modality,
      channels,
      ...(options.source === undefined ? {} : { source: options.source }),
      videos: manifestVideos,
    };
    await writeFileAtomic(join(tmp, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);

    // 2. Publish: move an existing folder aside, rename the new one in, then drop the old one.
    if (exists) {
      const old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}-${Date.now()}`);
      await rename(dir, old);
      await rename(tmp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await mkdir(dirname(dir), { recursive: true });
      await rename(tmp, dir);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    manifest: join(dir, "manifest.json"),
    videos: videos.length,
    frames: frameCount,
    masks: maskCount,
  };
}

function checkVideos(videos: readonly DatasetVideo[]): number {
  if (videos.length === 0) throw invalidArgument("videos", videos, "at least one video");
  const ids = new Set<string>();
  let channels: number | undefined;
  videos.forEach((v, vi) => {
    const where = `videos[${vi}]`;
    if (typeof v.id !== "string" || !VIDEO_ID.test(v.id)) {
      throw invalidArgument(`${where}.id`, v.id, "an id matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    }
    if (ids.has(v.id)) throw invalidArgument(`${where}.id`, v.id, "an id not used by another video");
    ids.add(v.id);
    if (!(v.fps > 0 && v.fps <= 1000)) throw invalidArgument(`${where}.fps`, v.fps, "a number in (0, 1000]");
    if (v.frames.length === 0) throw invalidArgument(`${where}.frames`, v.frames, "at least one frame");
    if (v.masks && v.masks.length !== v.frames.length) {
      throw invalidArgument(
        `${where}.masks`,
        v.masks,
        `${v.frames.length} entries (one per frame, undefined allowed)`,
      );
    }
    const { height: h, width: w } = v.frames[0];
    v.frames.forEach((f, i) => {
      checkImage(`${where}.frames[${i}]`, f, channels ?? f.channels);
      channels = f.channels;
      if (f.height !== h || f.width !== w) {
        throw invalidArgument(
          `${where}.frames[${i}] size`,
          `${f.height}x${f.width}`,
          `${h}x${w} like frames[0]`,
        );
      }
      const m = v.masks?.[i];
      if (m) checkMask(`${where}.masks[${i}]`, m, h, w);
    });
  });
  if (channels !== 1 && channels !== 3) throw invalidArgument("frames channels", channels, "1 or 3");
  return channels;
}
