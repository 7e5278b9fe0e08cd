/**
 * `stillmotion dataset import video <file>`: decode an mp4/avi/mov/... through ffmpeg (spawned,
 * never linked) into PNG frames, with optional resampled frame rate and time range. Optional key
 * masks are files named by the 0-based index of the extracted frame (e.g. `12.png`).
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { DatasetError } from "./errors.js";
import { imageInfo, writePng } from "./images.js";
import {
  type CommonImportOptions,
  checkMaskSize,
  type ImportResult,
  importDataset,
  importMask,
  listImages,
  resolveChannels,
  stem,
  toVideoId,
} from "./import-common.js";
import type { FrameEntry, VideoEntry } from "./manifest.js";

export interface ImportVideoOptions extends CommonImportOptions {
  file: string;
  /** Resample to this frame rate; default: the file's own. */
  fps?: number;
  /** Start and end time in seconds. */
  start?: number;
  end?: number;
  /** Folder of key masks named by extracted frame index (`0.png`, `000012.png`). */
  masks?: string;
  id?: string;
  /** Default: $STILLMOTION_FFMPEG or /usr/bin/ffmpeg (ffprobe is looked up beside it). */
  ffmpeg?: string;
}

export function ffmpegPath(explicit?: string): string {
  return explicit ?? process.env.STILLMOTION_FFMPEG ?? "/usr/bin/ffmpeg";
}

/** Run a tool; its failure becomes a DatasetError naming `subject` and quoting stderr. */
export function runTool(tool: string, args: string[], subject: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const code = (error as NodeJS.ErrnoException).code;
      const detail =
        code === "ENOENT"
          ? `${tool} not found (install ffmpeg: apt-get install ffmpeg, or set STILLMOTION_FFMPEG)`
          : `${path.basename(tool)} failed: ${stderr.trim().split("\n").slice(-3).join(" | ") || error.message}`;
      reject(
        new DatasetError(code === "ENOENT" ? "tool_failed" : "unsupported_input", subject, detail, {
          cause: error,
        }),
      );
    });
  });
}

interface Probe {
  fps: number;
}

/** "30000/1001" -> 29.97 */
function parseRate(rate: string | undefined): number {
  const [n, d = "1"] = (rate ?? "").split("/");
  const v = Number(n) / Number(d);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

export async function probeVideo(file: string, ffmpeg: string): Promise<Probe> {
  const ffprobe = path.join(path.dirname(ffmpeg), "ffprobe");
  const args = [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-show_entries",
    "stream=codec_type,avg_frame_rate,r_frame_rate",
  ];
  const out = await runTool(ffprobe, [...args, "-of", "json", file], file);
  const stream = (JSON.parse(out).streams ?? [])[0];
  if (!stream) throw new DatasetError("unsupported_input", file, "no video stream in file");
  const fps = parseRate(stream.avg_frame_rate) || parseRate(stream.r_frame_rate);
  return { fps };
}

export async function importVideo(options: ImportVideoOptions): Promise<ImportResult> {
  const [modality, channels] = resolveChannels(options);
  const { file, start, end } = options;
  try {
    if (!(await stat(file)).isFile()) throw new Error("not a file");
  } catch (cause) {
    throw new DatasetError("missing_file", file, "video file not found", { cause });
  }
  if (start !== undefined && !(start >= 0))
    throw new DatasetError("unsupported_input", "--start", `must be >= 0, got ${start}`);
  if (end !== undefined && !(end > (start ?? 0))) {
    throw new DatasetError(
      "unsupported_input",
      "--end",
      `must be greater than start (${start ?? 0}), got ${end}`,
    );
  }
  if (options.fps !== undefined && !(options.fps > 0 && options.fps <= 1000)) {
    throw new DatasetError("unsupported_input", "--fps", `fps must be in (0, 1000], got ${options.fps}`);
  }
  const ffmpeg = ffmpegPath(options.ffmpeg);
  const probe = await probeVideo(file, ffmpeg);
  const fps = options.fps ?? probe.fps;
  if (!fps) throw new DatasetError("unsupported_input", file, "frame rate unknown; pass --fps");
  const id = toVideoId(options.id ?? stem(file));
  return importDataset(options, async (root) => {
    const tmp = path.join(root, ".import-video.tmp");
    await rm(tmp, { recursive: true, force: true });
    const args = ["-nostdin", "-v", "error"];
    if (start !== undefined) args.push("-ss", String(start));
    args.push("-i", file);
    if (end !== undefined) args.push("-t", String(end - (start ?? 0)));
    if (options.fps !== undefined) args.push("-vf", `fps=${options.fps}`);
    args.push("-an", "-pix_fmt", channels === 1 ? "gray" : "rgb24", "-start_number", "0");
    await mkdir(tmp, { recursive: true });
    try {
      await runTool(ffmpeg, [...args, path.join(tmp, "%06d.png")], file);
      const frames = (await readdir(tmp)).filter((n) => n.endsWith(".png")).sort();
      if (frames.length === 0) {
        throw new DatasetError(
          "empty_video",
          file,
          `no frames decoded${start !== undefined ? ` from ${start}s` : ""}`,
        );
      }
      await mkdir(path.join(root, "frames"), { recursive: true });
      await rename(tmp, path.join(root, "frames", id));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const names = (await readdir(path.join(root, "frames", id))).filter((n) => n.endsWith(".png")).sort();
    // size from a decoded frame, not the container: ffmpeg applies rotation metadata
    const first = await imageInfo(path.join(root, "frames", id, names[0]));
    const video: VideoEntry = {
      id,
      fps,
      width: first.width,
      height: first.height,
      frames: names.map((n): FrameEntry => ({ image: `frames/${id}/${n}` })),
    };
    if (options.masks) {
      for (const name of await listImages(options.masks, "masks")) {
        const src = path.join(options.masks, name);
        const index = /^\d+$/.test(stem(name)) ? Number(stem(name)) : Number.NaN;
        if (!(index >= 0 && index < video.frames.length)) {
          throw new DatasetError(
            "unmatched_file",
            src,
            `mask name must be a frame index 0..${video.frames.length - 1} of the extracted frames`,
          );
        }
        const mask = await importMask(src, options.maskThreshold);
        checkMaskSize(src, mask, video.frames[index].image, video);
        const rel = `masks/${id}/${String(index).padStart(6, "0")}.png`;
        await writePng(path.join(root, rel), mask);
        Object.assign(video.frames[index], { keyMask: rel, keySource: "clinician" });
      }
    }
    return {
      format: "stillmotion-dataset",
      version: 1,
      name: options.name ?? id,
      modality,
      channels,
      source: {
        tool: "stillmotion dataset import video",
        from: path.resolve(file),
        ...(start !== undefined && { start }),
        ...(end !== undefined && { end }),
        ...(options.fps !== undefined && { resampledFps: options.fps }),
      },
      videos: [video],
    };
  });
}
