/**
 * The project's one dataset writer (docs/dataset-format.md): every importer, the generate
 * pipeline and library users write datasets through DatasetWriter. Files go into a staging
 * folder beside the output; `commit()` validates the manifest with the same rules as every
 * reader (JSON Schema + rules) and only then moves the folder into place, so a failed write
 * leaves nothing behind and a replaced dataset is never half old, half new. Videos are written
 * as they are added (`addVideo`), so only the manifest entries stay in memory.
 */
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
// Subpath imports: the dataset layer must not load onnxruntime (the package's main entry does).
import { replaceDirAtomic, tempPathFor, writeFileAtomic } from "@stillmotion/inference/fs-atomic";
import { encodePng } from "@stillmotion/inference/image-io";
import {
  checkImage,
  checkMask,
  type FloatImage,
  imageToPixels,
  type Mask,
  maskToPixels,
} from "@stillmotion/inference/image-types";
import { DatasetError } from "./errors.js";
import {
  FORMAT,
  type FrameEntry,
  type KeySource,
  MANIFEST_NAME,
  type ManifestData,
  VERSION,
  type VideoEntry,
  validateManifest,
} from "./manifest.js";

const VIDEO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Write `data` to `file` atomically (temp + fsync + rename); the one atomic write. */
export const atomicWrite = writeFileAtomic;

/** Everything in manifest.json but the videos; `channels` defaults to the first added video's. */
export type DatasetHeader = Omit<ManifestData, "format" | "version" | "videos" | "channels"> & {
  channels?: 1 | 3;
};

/** One video as images in memory (generated or propagated), for `addVideo`. */
export interface DatasetVideo {
  /** `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`, unique in the dataset. */
  id: string;
  fps: number;
  /** Consumed once, in order; a generator keeps only one frame in memory at a time. */
  frames: Iterable<FloatImage> | AsyncIterable<FloatImage>;
  /** One mask per frame index, or undefined for frames without one; default: no masks. */
  masks?: readonly (Mask | undefined)[];
  /** keySource per frame index, for masks not made by a model (default "synthetic"). */
  keySources?: Readonly<Record<number, KeySource>>;
  /** Where masks go: "key" (keyMask), "gt" (gtMask) or "both" (default, same file). */
  maskFields?: "key" | "gt" | "both";
  /** Soft masks are binarised at this value; default 0.5. */
  maskThreshold?: number;
}

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

export class DatasetWriter {
  private readonly videos: VideoEntry[] = [];
  private channels: 1 | 3 | undefined;
  private done = false;

  private constructor(
    /** Where the dataset ends up. */
    readonly out: string,
    /** The staging folder: importers that copy files themselves write them here. */
    readonly stage: string,
  ) {}

  /** Check `out` (see checkOutput) and create the staging folder beside it. */
  static async open(out: string, options: { overwrite?: boolean } = {}): Promise<DatasetWriter> {
    await checkOutput(out, options.overwrite);
    const stage = `${tempPathFor(path.resolve(out))}.staging`;
    await mkdir(stage, { recursive: true });
    return new DatasetWriter(out, stage);
  }

  /** Record a video whose files the caller already wrote under `stage`. */
  addEntry(video: VideoEntry): void {
    this.assertOpen();
    this.videos.push(video);
  }

  /** Encode a video's frames (and masks) into the staging folder as they come; returns its entry. */
  async addVideo(video: DatasetVideo): Promise<VideoEntry> {
    this.assertOpen();
    const fields = video.maskFields ?? "both";
    const threshold = video.maskThreshold ?? 0.5;
    const where = `videos[${this.videos.length}] ('${video.id}')`;
    // The id names folders: check it before any file is written (the schema checks it again).
    if (typeof video.id !== "string" || !VIDEO_ID.test(video.id)) {
      throw new DatasetError("invalid_manifest", this.out, `${where}.id: must match ${VIDEO_ID.source}`);
    }
    if (!(threshold > 0 && threshold <= 1)) {
      throw new DatasetError(
        "invalid_manifest",
        this.out,
        `${where}.maskThreshold ${threshold}: not in (0, 1]`,
      );
    }
    const frames: FrameEntry[] = [];
    let size: { width: number; height: number } | undefined;
    for await (const frame of video.frames) {
      const i = frames.length;
      checkImage(`${where}.frames[${i}]`, frame, this.channels ?? frame.channels);
      this.channels ??= frameChannels(frame, this.out, where);
      size ??= { width: frame.width, height: frame.height };
      if (frame.width !== size.width || frame.height !== size.height) {
        throw new DatasetError(
          "size_mismatch",
          this.out,
          `${where}.frames[${i}] is ${frame.width}x${frame.height}, frames[0] is ${size.width}x${size.height}`,
        );
      }
      const name = `${String(i).padStart(6, "0")}.png`;
      const entry: FrameEntry = { image: `frames/${video.id}/${name}` };
      await this.writeStaged(entry.image, await encodePng(imageToPixels(frame)));
      const mask = video.masks?.[i];
      if (mask) {
        checkMask(`${where}.masks[${i}]`, mask, size.height, size.width);
        const rel = `masks/${video.id}/${name}`;
        await this.writeStaged(rel, await encodePng(maskToPixels(mask, threshold)));
        if (fields !== "gt")
          Object.assign(entry, { keyMask: rel, keySource: video.keySources?.[i] ?? "synthetic" });
        if (fields !== "key") entry.gtMask = rel;
      }
      frames.push(entry);
    }
    if (video.masks && video.masks.length !== frames.length) {
      throw new DatasetError(
        "invalid_manifest",
        this.out,
        `${where}.masks has ${video.masks.length} entries for ${frames.length} frames (one per frame, undefined allowed)`,
      );
    }
    const entry: VideoEntry = {
      id: video.id,
      fps: video.fps,
      width: size?.width ?? 0,
      height: size?.height ?? 0,
      frames,
    };
    this.videos.push(entry);
    return entry;
  }

  /**
   * Validate and write manifest.json, then move the dataset into place (replacing an old one
   * only when opened with overwrite). On any failure the staging folder is removed.
   */
  async commit(header: DatasetHeader): Promise<{ manifest: string; data: ManifestData }> {
    this.assertOpen();
    this.done = true;
    try {
      const { name, description, modality, channels = this.channels, source } = header;
      const data = {
        format: FORMAT,
        version: VERSION,
        name,
        ...(description === undefined ? {} : { description }),
        modality,
        channels,
        ...(source === undefined ? {} : { source }),
        videos: this.videos,
      } as ManifestData;
      const file = path.join(this.stage, MANIFEST_NAME);
      // Errors name the manifest where it will live, not the staging folder.
      await validateManifest(data, this.stage, path.join(this.out, MANIFEST_NAME));
      await atomicWrite(file, `${JSON.stringify(data, null, 2)}\n`);
      await replaceDirAtomic(this.stage, this.out);
      return { manifest: path.join(this.out, MANIFEST_NAME), data };
    } catch (err) {
      await rm(this.stage, { recursive: true, force: true });
      throw err;
    }
  }

  /** Drop everything written so far. */
  async abort(): Promise<void> {
    this.done = true;
    await rm(this.stage, { recursive: true, force: true });
  }

  private assertOpen(): void {
    if (this.done)
      throw new DatasetError("invalid_manifest", this.out, "dataset writer already committed or aborted");
  }

  /**
   * Staged files need no temp + rename of their own: nobody reads the staging folder, and the
   * whole folder is published in one rename.
   */
  private async writeStaged(rel: string, bytes: Uint8Array): Promise<void> {
    const file = path.join(this.stage, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
}

function frameChannels(frame: FloatImage, out: string, where: string): 1 | 3 {
  if (frame.channels === 1 || frame.channels === 3) return frame.channels;
  throw new DatasetError(
    "wrong_channels",
    out,
    `${where} frames have ${frame.channels} channels; 1 or 3 allowed`,
  );
}

/**
 * Build a dataset with `build`, which writes files under the staging root it gets and returns
 * the manifest content (the importers' form of DatasetWriter). Returns the final manifest path.
 */
export async function writeDataset(
  out: string,
  overwrite: boolean | undefined,
  build: (stage: string) => Promise<ManifestData>,
): Promise<{ manifest: string; data: ManifestData }> {
  const writer = await DatasetWriter.open(out, { overwrite });
  let header: DatasetHeader;
  try {
    const { format: _format, version: _version, videos, ...rest } = await build(writer.stage);
    for (const video of videos) writer.addEntry(video);
    header = rest;
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return writer.commit(header);
}

/** Validate (same rules as any reader) and write manifest.json atomically; returns its path. */
export async function writeManifest(root: string, data: ManifestData): Promise<string> {
  const file = path.join(root, MANIFEST_NAME);
  await validateManifest(data, root, file);
  await atomicWrite(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
