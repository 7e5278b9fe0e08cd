/**
 * Manifest paths are relative and never contain `..` (manifest.ts pathProblem), but a symlink in
 * the dataset folder can still lead anywhere on the machine; such a file would be read, trained
 * on and copied into outputs as if it were part of the dataset. This resolves symlinks and
 * refuses what lands outside the folder. Links that stay inside (shared frames) are fine.
 * Mirrors stillmotion_trainer/data/containment.py.
 */
import { realpath } from "node:fs/promises";
import path from "node:path";
import { DatasetError } from "./errors.js";

/**
 * Throws DatasetError `unsafe_path` when `root/relative`, symlinks resolved, is not inside the
 * real `root`. A path that does not exist passes: the missing file is reported elsewhere.
 */
export async function assertInsideDataset(root: string, relative: string): Promise<void> {
  const full = path.join(root, relative);
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(full), realpath(root)]);
  } catch {
    return;
  }
  const inside = path.relative(realRoot, real);
  if (inside === ".." || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    throw new DatasetError(
      "unsafe_path",
      full,
      `resolves to ${real}, outside the dataset folder ${realRoot} (a symlink): copy the file into the dataset instead`,
    );
  }
}
