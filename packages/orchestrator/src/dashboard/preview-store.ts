/**
 * The run's preview strips on disk: every preview event `train` receives is kept as
 * run_dir/previews/step-XXXXXXXX.json (shapes + base64 uint8), so reports and a later dashboard
 * show samples without the trainer. Only the newest `PREVIEWS_KEPT` stay; writes are atomic.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Code, StillMotionError } from "../errors.js";
import { writeJsonAtomic } from "../runs/run-record.js";

/** How many preview files a run directory keeps (older ones are deleted on save). */
export const PREVIEWS_KEPT = 20;

/**
 * One preview strip: N predicted frames and their predicted masks, uint8 row-major.
 * `imageShape` is [N, C, H, W] (C = 3 RGB or 1 grey), `maskShape` is [N, 1, H, W].
 */
export interface StoredPreview {
  step: number;
  /** Seconds since the epoch when the trainer sent it (0 when unknown). */
  time: number;
  imageShape: number[];
  maskShape: number[];
  /** base64 of N*C*H*W bytes */
  images: string;
  /** base64 of N*1*H*W bytes */
  masks: string;
}

/** The part of telemetry's Preview event the store needs. */
export interface PreviewTensors {
  step: number;
  imageShape: number[];
  maskShape: number[];
  images: Uint8Array;
  masks: Uint8Array;
}

const FILE_PATTERN = /^step-(\d{8,})\.json$/;

export function previewsDir(runDir: string): string {
  return join(runDir, "previews");
}

export function previewFileName(step: number): string {
  return `step-${String(step).padStart(8, "0")}.json`;
}

/** Checks shapes against the byte counts; throws naming `where` and the field. */
export function validatePreview(p: PreviewTensors, where: string): void {
  const fail = (field: string, problem: string): never => {
    throw new StillMotionError(Code.INVALID_ARGUMENT, `${where}: ${field}: ${problem}`);
  };
  if (!Number.isInteger(p.step) || p.step < 0) fail("step", `must be an integer >= 0, got ${p.step}`);
  for (const [field, shape] of [
    ["imageShape", p.imageShape],
    ["maskShape", p.maskShape],
  ] as const) {
    if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      fail(field, `must be 4 positive integers [N, C, H, W], got ${JSON.stringify(shape)}`);
    }
  }
  const [n, c, h, w] = p.imageShape;
  if (c !== 1 && c !== 3) fail("imageShape", `channels must be 1 or 3, got ${c}`);
  const [mn, mc, mh, mw] = p.maskShape;
  if (mn !== n || mc !== 1 || mh !== h || mw !== w) {
    fail("maskShape", `must be [${n}, 1, ${h}, ${w}] to match imageShape, got [${p.maskShape.join(", ")}]`);
  }
  if (p.images.length !== n * c * h * w)
    fail("images", `holds ${p.images.length} bytes, shape needs ${n * c * h * w}`);
  if (p.masks.length !== n * h * w) fail("masks", `holds ${p.masks.length} bytes, shape needs ${n * h * w}`);
}

/** Encodes a telemetry preview for storage (validated first). */
export function toStoredPreview(p: PreviewTensors, time = 0): StoredPreview {
  validatePreview(p, `preview at step ${p.step}`);
  return {
    step: p.step,
    time,
    imageShape: [...p.imageShape],
    maskShape: [...p.maskShape],
    images: Buffer.from(p.images.buffer, p.images.byteOffset, p.images.byteLength).toString("base64"),
    masks: Buffer.from(p.masks.buffer, p.masks.byteOffset, p.masks.byteLength).toString("base64"),
  };
}

/** Writes the preview (atomically) and deletes all but the newest `keep` files. Returns its path. */
export function savePreview(runDir: string, preview: StoredPreview, keep = PREVIEWS_KEPT): string {
  const path = join(previewsDir(runDir), previewFileName(preview.step));
  writeJsonAtomic(path, preview);
  const files = listPreviewFiles(runDir);
  for (const old of files.slice(0, Math.max(0, files.length - keep))) rmSync(old, { force: true });
  return path;
}

/** Preview files of the run, oldest step first. */
export function listPreviewFiles(runDir: string): string[] {
  const dir = previewsDir(runDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => FILE_PATTERN.test(name))
    .sort()
    .map((name) => join(dir, name));
}

/** Reads and validates one stored preview; a bad file is a typed error naming it. */
export function readPreview(path: string): StoredPreview {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new StillMotionError(Code.DATA_LOSS, `${path}: not a readable preview JSON file`, { cause });
  }
  const p = raw as Partial<StoredPreview>;
  if (typeof p.images !== "string" || typeof p.masks !== "string") {
    throw new StillMotionError(Code.DATA_LOSS, `${path}: images and masks must be base64 strings`);
  }
  validatePreview(
    {
      step: p.step as number,
      imageShape: p.imageShape as number[],
      maskShape: p.maskShape as number[],
      images: Buffer.from(p.images, "base64"),
      masks: Buffer.from(p.masks, "base64"),
    },
    path,
  );
  return { ...(p as StoredPreview), time: typeof p.time === "number" ? p.time : 0 };
}

/**
 * The newest previews, oldest first, at most `maxCount` and — newest first — until `maxBytes` of
 * base64 is reached (always at least the newest one), so a page stays light with large frames.
 */
export function readRecentPreviews(
  runDir: string,
  maxCount = PREVIEWS_KEPT,
  maxBytes = 8 * 2 ** 20,
): StoredPreview[] {
  const out: StoredPreview[] = [];
  let bytes = 0;
  for (const path of listPreviewFiles(runDir).reverse()) {
    if (out.length >= maxCount) break;
    const preview = readPreview(path);
    bytes += preview.images.length + preview.masks.length;
    if (out.length > 0 && bytes > maxBytes) break;
    out.push(preview);
  }
  return out.reverse();
}
