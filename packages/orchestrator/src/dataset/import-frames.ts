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

/** A frame folder checked before anything is written: its frames and their matched masks. */
export interface FrameFolder {
  dir: string;
  id: string;
  /** Frame file names, natural order. */
  names: string[];
  keyMasks: Map<string, string>;
  gtMasks: Map<string, string>;
}

/** List a frame folder and match its mask folders by stem (errors name the offending file). */
export async function scanFrameFolder(
  dir: string,
  id: string,
  masks?: string,
  gtMasks?: string,
): Promise<FrameFolder> {
  const names = await listImages(dir, "frames");
  const stems = new Set<string>();
  for (const n of names) {
    if (stems.has(stem(n))) {
      throw new DatasetError("duplicate_path", path.join(dir, n), `two frames share the stem '${stem(n)}'`);
    }
    stems.add(stem(n));
  }
  return {
    dir,
    id,
    names,
    keyMasks: masks ? await maskFolder(masks, stems, "masks") : new Map<string, string>(),
    gtMasks: gtMasks ? await maskFolder(gtMasks, stems, "evaluation masks") : new Map<string, string>(),
  };
}

/** The fps every frame importer accepts: (0, 1000], default 25. */
export function checkFps(fps = 25): number {
  if (!(fps > 0 && fps <= 1000))
    throw new DatasetError("unsupported_input", "--fps", `fps must be in (0, 1000], got ${fps}`);
  return fps;
}

/** Copy one scanned frame folder into the staged dataset `root` as video `folder.id`. */
export async function writeFrameVideo(
  root: string,
  folder: FrameFolder,
  fps: number,
  channels: 1 | 3,
  maskThreshold?: number,
): Promise<VideoEntry> {
  const { id } = folder;
  const video: VideoEntry = { id, fps, width: 0, height: 0, frames: [] };
  for (const [i, name] of folder.names.entries()) {
    const src = path.join(folder.dir, name);
    const index = String(i).padStart(6, "0");
    const frame = await importFrame(src, root, `frames/${id}/${index}`, channels);
    if (i === 0) Object.assign(video, { width: frame.width, height: frame.height });
    checkSameSize(src, frame, video);
    const entry: FrameEntry = { image: frame.rel };
    for (const [kind, files, dest] of [
      ["keyMask", folder.keyMasks, "masks"],
      ["gtMask", folder.gtMasks, "gt"],
    ] as const) {
      const maskSrc = files.get(stem(name));
      if (!maskSrc) continue;
      const mask = await importMask(maskSrc, maskThreshold);
      checkMaskSize(maskSrc, mask, src, video);
      const rel = `${dest}/${id}/${index}.png`;
      await writePng(path.join(root, rel), mask);
      entry[kind] = rel;
      if (kind === "keyMask") entry.keySource = "clinician";
    }
    video.frames.push(entry);
  }
  return video;
}

export async function importFrames(options: ImportFramesOptions): Promise<ImportResult> {
  const [modality, channels] = resolveChannels(options);
  const fps = checkFps(options.fps);
  const id = toVideoId(options.id ?? path.basename(path.resolve(options.dir)));
  const folder = await scanFrameFolder(options.dir, id, options.masks, options.gtMasks);
  return importDataset(options, async (root) => ({
    format: "stillmotion-dataset",
    version: 1,
    name: options.name ?? id,
    modality,
    channels,
    source: { tool: "stillmotion dataset import frames", from: path.resolve(options.dir) },
    videos: [await writeFrameVideo(root, folder, fps, channels, options.maskThreshold)],
  }));
}
