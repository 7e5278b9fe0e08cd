/**
 * `stillmotion dataset import stills <dir>`: a still-image collection with masks, each still a
 * one-frame video whose mask is both its key mask and its evaluation mask. Layouts:
 * Kvasir-SEG (`images/` + `masks/`) and CVC-ClinicDB (`Original/` + `Ground Truth/`).
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { DatasetError } from "./errors.js";
import { writePng } from "./images.js";
import {
  type CommonImportOptions,
  checkMaskSize,
  type ImportResult,
  importDataset,
  importFrame,
  importMask,
  listImages,
  resolveChannels,
  stem,
  toVideoId,
} from "./import-common.js";
import type { VideoEntry } from "./manifest.js";

export const STILL_LAYOUTS = {
  kvasir: { images: "images", masks: "masks" },
  cvc: { images: "Original", masks: "Ground Truth" },
} as const;
export type StillLayout = keyof typeof STILL_LAYOUTS;

export interface ImportStillsOptions extends CommonImportOptions {
  dir: string;
  /** Default: detected from the folder names. */
  layout?: StillLayout;
  /** Import stills that have no mask (as one-frame videos without masks) instead of failing. */
  allowUnmasked?: boolean;
}

/** Which layout `dir` follows; folder names compare case-insensitively. */
export async function detectLayout(
  dir: string,
): Promise<{ layout: StillLayout; images: string; masks: string }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw new DatasetError("missing_file", dir, "cannot read still-image folder", { cause });
  }
  const find = (want: string) => names.find((n) => n.toLowerCase() === want.toLowerCase());
  for (const [layout, folders] of Object.entries(STILL_LAYOUTS) as [
    StillLayout,
    { images: string; masks: string },
  ][]) {
    const images = find(folders.images);
    const masks = find(folders.masks);
    if (images && masks) return { layout, images: path.join(dir, images), masks: path.join(dir, masks) };
  }
  throw new DatasetError(
    "unsupported_input",
    dir,
    "unknown still-image layout; expected images/ + masks/ (Kvasir-SEG) or Original/ + Ground Truth/ (CVC-ClinicDB)",
  );
}

export async function importStills(options: ImportStillsOptions): Promise<ImportResult> {
  const [modality, channels] = resolveChannels(options);
  const found = await detectLayout(options.dir);
  if (options.layout && options.layout !== found.layout) {
    throw new DatasetError(
      "unsupported_input",
      options.dir,
      `--layout ${options.layout} given but the folder is ${found.layout}`,
    );
  }
  const images = await listImages(found.images, "images");
  const masks = new Map(
    (await listImages(found.masks, "masks")).map((n) => [stem(n), path.join(found.masks, n)]),
  );
  const imageStems = new Set(images.map(stem));
  for (const [s, file] of masks) {
    if (!imageStems.has(s))
      throw new DatasetError("unmatched_file", file, `mask has no image named '${s}.*'`);
  }
  const unmasked = images.filter((n) => !masks.has(stem(n)));
  if (unmasked.length > 0 && !options.allowUnmasked) {
    throw new DatasetError(
      "unmatched_file",
      path.join(found.images, unmasked[0]),
      `image has no mask in ${found.masks}` +
        (unmasked.length > 1 ? ` (${unmasked.length} images lack masks)` : "") +
        "; pass --allow-unmasked to import them without masks",
    );
  }
  const ids = new Map<string, string>();
  return importDataset(options, async (root) => {
    const videos: VideoEntry[] = [];
    for (const name of images) {
      const src = path.join(found.images, name);
      const id = toVideoId(stem(name));
      const clash = ids.get(id);
      if (clash) throw new DatasetError("duplicate_id", src, `video id '${id}' also derived from ${clash}`);
      ids.set(id, src);
      const frame = await importFrame(src, root, `frames/${id}/000000`, channels);
      const video: VideoEntry = {
        id,
        fps: 1,
        width: frame.width,
        height: frame.height,
        frames: [{ image: frame.rel }],
      };
      const maskSrc = masks.get(stem(name));
      if (maskSrc) {
        const mask = await importMask(maskSrc, options.maskThreshold);
        checkMaskSize(maskSrc, mask, src, video);
        const rel = `masks/${id}/000000.png`;
        await writePng(path.join(root, rel), mask);
        Object.assign(video.frames[0], { keyMask: rel, keySource: "clinician", gtMask: rel });
      }
      videos.push(video);
    }
    return {
      format: "stillmotion-dataset",
      version: 1,
      name: options.name ?? path.basename(path.resolve(options.dir)),
      modality,
      channels,
      source: {
        tool: "stillmotion dataset import stills",
        from: path.resolve(options.dir),
        layout: found.layout,
      },
      videos,
    };
  });
}
