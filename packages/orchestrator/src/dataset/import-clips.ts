/**
 * `stillmotion dataset import clips <root>`: a folder of clips, one sub-folder per video, each
 * holding a frames folder and optionally a folder of evaluation masks matched by file stem (the
 * layout of public video segmentation sets such as vocalfolds: `<seq>/frames/000000.jpg`,
 * `<seq>/masks/000000.png`). Every clip goes through import-frames' steps, into one dataset.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { DatasetError } from "./errors.js";
import {
  type CommonImportOptions,
  type ImportResult,
  importDataset,
  naturalCompare,
  resolveChannels,
  toVideoId,
} from "./import-common.js";
import { checkFps, type FrameFolder, scanFrameFolder, writeFrameVideo } from "./import-frames.js";

export interface ImportClipsOptions extends CommonImportOptions {
  root: string;
  /** Name of each clip's frames folder; default "frames". */
  framesDir?: string;
  /** Name of each clip's evaluation-mask folder; default "masks". Absent in a clip = no gtMask. */
  masksDir?: string;
  /** Default 25, for every clip. */
  fps?: number;
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The clip folders of `root` (those holding `framesDir`), natural order. */
export async function listClips(root: string, framesDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (cause) {
    throw new DatasetError("missing_file", root, "cannot read clips folder", { cause });
  }
  const clips: string[] = [];
  for (const name of names.filter((n) => !n.startsWith(".")).sort(naturalCompare)) {
    if (await isDirectory(path.join(root, name, framesDir))) clips.push(name);
  }
  if (clips.length === 0) {
    throw new DatasetError(
      "missing_file",
      root,
      `no clips: no sub-folder holds a '${framesDir}' folder (expected <clip>/${framesDir}/<frame>.jpg)`,
    );
  }
  return clips;
}

export async function importClips(options: ImportClipsOptions): Promise<ImportResult> {
  const [modality, channels] = resolveChannels(options);
  const fps = checkFps(options.fps);
  const framesDir = options.framesDir ?? "frames";
  const masksDir = options.masksDir ?? "masks";
  // Every clip is listed and matched before anything is written: a bad mask in the last clip
  // fails in seconds, not after copying all the others.
  const folders: FrameFolder[] = [];
  const ids = new Map<string, string>();
  for (const name of await listClips(options.root, framesDir)) {
    const clip = path.join(options.root, name);
    const id = toVideoId(name);
    const other = ids.get(id);
    if (other !== undefined) {
      throw new DatasetError("duplicate_id", clip, `clip id '${id}' is also the id of '${other}'`);
    }
    ids.set(id, name);
    const masks = path.join(clip, masksDir);
    const gtMasks = (await isDirectory(masks)) ? masks : undefined;
    folders.push(await scanFrameFolder(path.join(clip, framesDir), id, undefined, gtMasks));
  }
  return importDataset(options, async (stage) => {
    const videos = [];
    for (const folder of folders) {
      videos.push(await writeFrameVideo(stage, folder, fps, channels, options.maskThreshold));
    }
    return {
      format: "stillmotion-dataset",
      version: 1,
      name: options.name ?? toVideoId(path.basename(path.resolve(options.root))),
      modality,
      channels,
      source: {
        tool: "stillmotion dataset import clips",
        from: path.resolve(options.root),
        framesDir,
        masksDir,
      },
      videos,
    };
  });
}
