/**
 * `stillmotion dataset import frames <dir>`: a folder of frame images (one video, natural file
 * order) with optional folders of key masks and evaluation masks matched by file stem.
 */
import path from "node:path";
import { DatasetError } from "./errors.js";
import { writePng } from "./images.js";
import {
  type CommonImportOptions,
  checkMaskSize,
  checkSameSize,
  type ImportResult,
  importDataset,
  importFrame,
  importMask,
  listImages,
  resolveChannels,
  stem,
  toVideoId,
} from "./import-common.js";
import type { FrameEntry, VideoEntry } from "./manifest.js";

export interface ImportFramesOptions extends CommonImportOptions {
  dir: string;
  /** Key-frame masks (sparse), matched to frames by file stem. */
  masks?: string;
  /** Full evaluation masks, matched by file stem. */
  gtMasks?: string;
  /** Default 25. */
  fps?: number;
  /** Video id; default: the folder's name. */
  id?: string;
}

/** Map stem -> file for a mask folder; every mask must belong to a frame. */
async function maskFolder(dir: string, frameStems: Set<string>, what: string): Promise<Map<string, string>> {
  const byStem = new Map<string, string>();
  for (const name of await listImages(dir, what)) {
    const s = stem(name);
    if (byStem.has(s)) {
      throw new DatasetError("duplicate_path", path.join(dir, name), `two ${what} share the stem '${s}'`);
    }
    if (!frameStems.has(s)) {
      throw new DatasetError(
        "unmatched_file",
        path.join(dir, name),
        `${what.slice(0, -1)} has no frame named '${s}.*'`,
      );
    }
    byStem.set(s, path.join(dir, name));
  }
  return byStem;
}

export async function importFrames(options: ImportFramesOptions): Promise<ImportResult> {
  const [modality, channels] = resolveChannels(options);
  const fps = options.fps ?? 25;
  if (!(fps > 0 && fps <= 1000))
    throw new DatasetError("unsupported_input", "--fps", `fps must be in (0, 1000], got ${fps}`);
  const names = await listImages(options.dir, "frames");
  const stems = new Set<string>();
  for (const n of names) {
    if (stems.has(stem(n))) {
      throw new DatasetError(
        "duplicate_path",
        path.join(options.dir, n),
        `two frames share the stem '${stem(n)}'`,
      );
    }
    stems.add(stem(n));
  }
  const keyMasks = options.masks
    ? await maskFolder(options.masks, stems, "masks")
    : new Map<string, string>();
  const gtMasks = options.gtMasks
    ? await maskFolder(options.gtMasks, stems, "evaluation masks")
    : new Map<string, string>();
  const id = toVideoId(options.id ?? path.basename(path.resolve(options.dir)));
  return importDataset(options, async (root) => {
    const video: VideoEntry = { id, fps, width: 0, height: 0, frames: [] };
    for (const [i, name] of names.entries()) {
      const src = path.join(options.dir, name);
      const index = String(i).padStart(6, "0");
      const frame = await importFrame(src, root, `frames/${id}/${index}`, channels);
      if (i === 0) Object.assign(video, { width: frame.width, height: frame.height });
      checkSameSize(src, frame, video);
      const entry: FrameEntry = { image: frame.rel };
      for (const [kind, files, folder] of [
        ["keyMask", keyMasks, "masks"],
        ["gtMask", gtMasks, "gt"],
      ] as const) {
        const maskSrc = files.get(stem(name));
        if (!maskSrc) continue;
        const mask = await importMask(maskSrc, options.maskThreshold);
        checkMaskSize(maskSrc, mask, src, video);
        const rel = `${folder}/${id}/${index}.png`;
        await writePng(path.join(root, rel), mask);
        entry[kind] = rel;
        if (kind === "keyMask") entry.keySource = "clinician";
      }
      video.frames.push(entry);
    }
    return {
      format: "stillmotion-dataset",
      version: 1,
      name: options.name ?? id,
      modality,
      channels,
      source: { tool: "stillmotion dataset import frames", from: path.resolve(options.dir) },
      videos: [video],
    };
  });
}
