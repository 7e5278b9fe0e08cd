/**
 * Full dataset check: every file stays inside the dataset folder (symlinks resolved), decodes,
 * sizes agree, masks are binary. Mirrors stillmotion_trainer/data/check.py; reports every
 * problem, not only the first.
 */
import path from "node:path";
import { assertInsideDataset } from "./containment.js";
import { DatasetError } from "./errors.js";
import { imageInfo, loadMask, readPixels } from "./images.js";
import { loadManifest, type Manifest } from "./manifest.js";

export interface CheckReport {
  ok: boolean;
  manifest?: string;
  videos: number;
  frames: number;
  keyMasks: number;
  gtMasks: number;
  errors: DatasetError[];
}

async function collect<T>(errors: DatasetError[], work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DatasetError) {
      errors.push(err);
      return undefined;
    }
    throw err;
  }
}

/** True when `relative` stays inside the dataset; else its error joins `errors`. */
async function inside(errors: DatasetError[], root: string, relative: string): Promise<boolean> {
  const checked = await collect(errors, async () => {
    await assertInsideDataset(root, relative);
    return true;
  });
  return checked === true;
}

/** Check a dataset folder or manifest.json (or an already loaded manifest). */
export async function checkDataset(target: string | Manifest): Promise<CheckReport> {
  const errors: DatasetError[] = [];
  const manifest = typeof target === "string" ? await collect(errors, () => loadManifest(target)) : target;
  const report: CheckReport = { ok: false, videos: 0, frames: 0, keyMasks: 0, gtMasks: 0, errors };
  if (!manifest) return report;
  report.manifest = manifest.file;
  const { data, root } = manifest;
  report.videos = data.videos.length;
  for (const video of data.videos) {
    for (const frame of video.frames) {
      report.frames++;
      const imageFile = path.join(root, frame.image);
      if (!(await inside(errors, root, frame.image))) continue;
      const px = await collect(errors, () => readPixels(imageFile, data.channels));
      if (px && (px.width !== video.width || px.height !== video.height)) {
        errors.push(
          new DatasetError(
            "size_mismatch",
            imageFile,
            `frame is ${px.width}x${px.height} but video '${video.id}' declares ${video.width}x${video.height}`,
          ),
        );
      }
      for (const [kind, rel] of [
        ["keyMask", frame.keyMask],
        ["gtMask", frame.gtMask],
      ] as const) {
        if (!rel) continue;
        if (kind === "keyMask") report.keyMasks++;
        else report.gtMasks++;
        const maskFile = path.join(root, rel);
        if (!(await inside(errors, root, rel))) continue;
        const mask = await collect(errors, () => loadMask(maskFile));
        const size = px ?? (await collect([], () => imageInfo(imageFile)));
        if (mask && size && (mask.width !== size.width || mask.height !== size.height)) {
          errors.push(
            new DatasetError(
              "size_mismatch",
              maskFile,
              `${kind} is ${mask.width}x${mask.height} but its frame ${frame.image} is ${size.width}x${size.height}`,
            ),
          );
        }
      }
    }
  }
  report.ok = errors.length === 0;
  return report;
}
