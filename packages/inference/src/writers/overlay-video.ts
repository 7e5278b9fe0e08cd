/**
 * Writer: an H.264 mp4 of the frames with their masks tinted in, encoded by ffmpeg (spawned,
 * raw RGB frames on its stdin). Odd sizes are padded to even (yuv420p needs even dimensions).
 */
import { spawn } from "node:child_process";

import { Code, InferenceError, invalidArgument } from "../errors.js";
import { produceAtomic } from "../fs-atomic.js";
import type { FloatImage, Mask } from "../image-types.js";
import { type OverlayOptions, overlayPixels } from "../overlay.js";

export const DEFAULT_FFMPEG = "/usr/bin/ffmpeg";

export interface OverlayVideoOptions extends OverlayOptions {
  /** Frames per second; default 30. */
  fps?: number;
  /** ffmpeg binary; default $FFMPEG_PATH or /usr/bin/ffmpeg. */
  ffmpegPath?: string;
  /** x264 constant rate factor (0 lossless .. 51 worst); default 20. */
  crf?: number;
}

/** Encode `frames` with `masks` overlaid to `path` (.mp4), atomically. */
export async function writeOverlayVideo(
  path: string,
  frames: readonly FloatImage[],
  masks: readonly Mask[],
  options: OverlayVideoOptions = {},
): Promise<void> {
  if (frames.length === 0) throw invalidArgument("frames", frames, "at least one frame");
  if (masks.length !== frames.length)
    throw invalidArgument("masks", masks, `${frames.length} masks, one per frame`);
  const fps = options.fps ?? 30;
  if (!(fps > 0 && fps <= 1000)) throw invalidArgument("fps", fps, "a number in (0, 1000]");
  const crf = options.crf ?? 20;
  const ffmpeg = options.ffmpegPath ?? process.env.FFMPEG_PATH ?? DEFAULT_FFMPEG;
  const { width: w, height: h } = frames[0];
  await produceAtomic(path, async (tmp) => {
    const args = [
      ...["-hide_banner", "-loglevel", "error", "-y"],
      ...["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${w}x${h}`, "-r", String(fps), "-i", "pipe:0"],
      ...["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast"],
      ...["-crf", String(crf), "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", tmp],
    ];
    const child = spawn(ffmpeg, args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (cause) {
      throw new InferenceError(
        Code.UNAVAILABLE,
        `cannot start ffmpeg (${ffmpeg}): ${(cause as Error).message}`,
        {
          file: path,
          cause,
        },
      );
    }
    // if ffmpeg dies mid-stream, writes fail with EPIPE; its exit code and stderr tell why
    let pipeBroken = false;
    child.stdin.on("error", () => {
      pipeBroken = true;
    });
    try {
      for (let i = 0; i < frames.length && !pipeBroken; i++) {
        if (frames[i].width !== w || frames[i].height !== h) {
          throw invalidArgument(`frames[${i}] size`, `${frames[i].height}x${frames[i].width}`, `${h}x${w}`);
        }
        const rgb = overlayPixels(frames[i], masks[i], options).data;
        if (!child.stdin.write(rgb)) {
          await Promise.race([new Promise((r) => child.stdin.once("drain", r)), exited]);
        }
      }
      child.stdin.end();
    } catch (err) {
      child.kill("SIGKILL");
      await exited;
      throw err;
    }
    const code = await exited;
    if (code !== 0) {
      throw new InferenceError(Code.INTERNAL, `ffmpeg exited with code ${code}: ${stderr.trim()}`, {
        file: path,
      });
    }
  });
}
