/**
 * The project's one atomic write (TypeScript; Python's twin is stillmotion_trainer/fs_atomic.py):
 * write a temporary file beside the target, fsync it, rename it over the target, fsync the
 * folder. Readers see the old file or the complete new one, never a torn one, and after a crash
 * the rename is not lost with the folder's unflushed metadata. Every package writes through here.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A temporary path in the same folder as `path` (same filesystem, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/**
 * A failed write's error with the target's path: `write` and `fsync` errors (ENOSPC on a full
 * disk) carry no path in Node, and one naming the temporary file (open, rename) names a file that
 * is already gone. Errors about another path (the folder) keep it.
 */
function namingTarget(err: unknown, path: string, tmp: string): unknown {
  const sys = err as NodeJS.ErrnoException;
  if (sys instanceof Error && typeof sys.code === "string" && (sys.path === undefined || sys.path === tmp)) {
    sys.path = path;
  }
  return err;
}

/** Flush a file's (or a folder's) data and metadata to disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function fsyncPathSync(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write `data` to `path` so readers see the old file or the complete new one, never a torn one. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await produceAtomic(path, (tmp) => writeFile(tmp, data));
}

/** Run `produce(tmp)` to create a temporary file, then move it to `path` (removed on failure). */
export async function produceAtomic(path: string, produce: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await produce(tmp);
    await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw namingTarget(err, path, tmp);
  }
  await fsyncPath(dirname(path));
}

/**
 * writeFileAtomic for the few places that must not yield to the event loop (a run record
 * written from an exit handler). `mode` (e.g. 0o600 for a file holding a secret) is set when the
 * temporary file is created, so the data is never readable with wider permissions.
 */
export function writeFileAtomicSync(
  path: string,
  data: Uint8Array | string,
  options: { mode?: number } = {},
): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data, options.mode === undefined ? undefined : { mode: options.mode });
    fsyncPathSync(tmp);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw namingTarget(err, path, tmp);
  }
  fsyncPathSync(dirname(path));
}

/**
 * Publish a finished folder: `stage` takes the place of `target` in one rename; an existing
 * `target` is first moved aside and dropped only after the new one is in place, so a reader
 * finds either the complete old folder or the complete new one.
 */
export async function replaceDirAtomic(stage: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const old = `${tempPathFor(target)}.old`;
  const hadOld = await rename(target, old).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
  try {
    await rename(stage, target);
  } catch (err) {
    if (hadOld) await rename(old, target);
    throw err;
  }
  await fsyncPath(dirname(target));
  if (hadOld) await rm(old, { recursive: true, force: true });
}
