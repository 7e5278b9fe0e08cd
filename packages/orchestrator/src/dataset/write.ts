/**
 * Writing datasets: atomic files (temp + rename), output folders that never clobber someone's
 * data, and the manifest.
 */
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "@stillmotion/inference";
import { DatasetError } from "./errors.js";
import { MANIFEST_NAME, type ManifestData, validateManifest } from "./manifest.js";

/** Write `data` to `file` through a temporary file in the same folder, then rename. */
export const atomicWrite = writeFileAtomic;

/** Distinguishes staging folders of one process. */
let counter = 0;

/** Refuse a non-empty `out` unless `overwrite` and it holds a dataset (never someone's other files). */
export async function checkOutput(out: string, overwrite = false): Promise<void> {
  let entries: string[] = [];
  try {
    const s = await stat(out);
    if (!s.isDirectory()) throw new DatasetError("output_exists", out, "exists and is not a folder");
    entries = await readdir(out);
  } catch (err) {
    if (err instanceof DatasetError) throw err;
  }
  if (entries.length === 0) return;
  if (!overwrite) {
    throw new DatasetError(
      "output_exists",
      out,
      "output folder is not empty (pass --overwrite to replace a dataset)",
    );
  }
  if (!entries.includes(MANIFEST_NAME)) {
    throw new DatasetError(
      "output_exists",
      out,
      "refusing to overwrite a folder that holds no dataset manifest",
    );
  }
}

/**
 * Build a dataset in a staging folder beside `out` and move it into place only once its
 * manifest validates, so a failed import leaves nothing behind and a replaced dataset is never
 * half old, half new. `build` writes files under the staging root it gets and returns the
 * manifest content. Returns the final manifest path.
 */
export async function writeDataset(
  out: string,
  overwrite: boolean | undefined,
  build: (stage: string) => Promise<ManifestData>,
): Promise<{ manifest: string; data: ManifestData }> {
  await checkOutput(out, overwrite);
  const stage = path.join(
    path.dirname(path.resolve(out)),
    `.${path.basename(out)}.staging-${process.pid}-${counter++}`,
  );
  await mkdir(stage, { recursive: true });
  let data: ManifestData;
  try {
    data = await build(stage);
    await writeManifest(stage, data);
  } catch (err) {
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
  const old = `${stage}.old`;
  const hadOld = await stat(out).then(
    () => true,
    () => false,
  );
  if (hadOld) await rename(out, old);
  await rename(stage, out);
  if (hadOld) await rm(old, { recursive: true, force: true });
  return { manifest: path.join(out, MANIFEST_NAME), data };
}

/** Validate (same rules as any reader) and write manifest.json atomically; returns its path. */
export async function writeManifest(root: string, data: ManifestData): Promise<string> {
  const file = path.join(root, MANIFEST_NAME);
  await validateManifest(data, root, file);
  await atomicWrite(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
