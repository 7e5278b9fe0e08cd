// Writers: PNG sequence, overlay mp4 (ffmpeg), animated preview (sharp). The dataset writer is
// the orchestrator's (src/dataset/write.ts), tested there.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Code, InferenceError } from "../errors.js";
import { readMask } from "../image-io.js";
import type { FloatImage, Mask } from "../image-types.js";
import { overlayPixels } from "../overlay.js";
import { writeAnimatedPreview } from "./animated-preview.js";
import { writeOverlayVideo } from "./overlay-video.js";
import { writePngSequence } from "./png-sequence.js";

const run = promisify(execFile);

/** A short clip: a bright square moving right, its mask following it. H=18, W=24 (even/odd mix). */
function clip(n: number, channels: 1 | 3 = 3, h = 18, w = 25): { frames: FloatImage[]; masks: Mask[] } {
  const frames: FloatImage[] = [];
  const masks: Mask[] = [];
  for (let t = 0; t < n; t++) {
    const img = new Float32Array(channels * h * w).fill(0.2);
    const m = new Float32Array(h * w);
    for (let y = 5; y < 12; y++) {
      for (let x = 2 + 2 * t; x < 9 + 2 * t && x < w; x++) {
        m[y * w + x] = 1;
        for (let c = 0; c < channels; c++) img[c * h * w + y * w + x] = 0.9;
      }
    }
    frames.push({ data: img, channels, height: h, width: w });
    masks.push({ data: m, height: h, width: w });
  }
  return { frames, masks };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stillmotion-writers-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("overlay", () => {
  it("tints masked pixels towards the colour by alpha * m", () => {
    const frame: FloatImage = { data: Float32Array.from([0, 1]), channels: 1, height: 1, width: 2 };
    const mask: Mask = { data: Float32Array.from([1, 0]), height: 1, width: 2 };
    const px = overlayPixels(frame, mask, { color: [200, 100, 0], alpha: 0.5 });
    expect(Array.from(px.data)).toEqual([100, 50, 0, 255, 255, 255]);
  });
});

describe("writers", () => {
  it("PNG sequence: numbered frames and binarised masks", async () => {
    const { frames, masks } = clip(3);
    const out = await writePngSequence(join(dir, "seq"), { frames, masks, maskThreshold: 0.5 });
    expect(out.frames.map((p) => p.slice(-15))).toEqual([
      "frame_00000.png",
      "frame_00001.png",
      "frame_00002.png",
    ]);
    expect(await readdir(join(dir, "seq"))).toHaveLength(6);
    const m = await readMask(out.masks[2]);
    expect(m.data).toEqual(masks[2].data);
  });

  it("overlay video: an H.264 mp4 with one frame per input, odd width padded to even", async () => {
    const { frames, masks } = clip(6);
    const path = join(dir, "overlay.mp4");
    await writeOverlayVideo(path, frames, masks, { fps: 12 });
    const { stdout } = await run("/usr/bin/ffprobe", [
      ...["-v", "error", "-select_streams", "v:0", "-count_frames"],
      ...["-show_entries", "stream=codec_name,width,height,nb_read_frames,r_frame_rate", "-of", "json", path],
    ]);
    const stream = JSON.parse(stdout).streams[0];
    expect(stream).toMatchObject({
      codec_name: "h264",
      width: 26,
      height: 18,
      nb_read_frames: "6",
      r_frame_rate: "12/1",
    });
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("overlay video: ffmpeg missing -> UNAVAILABLE, and no file left behind", async () => {
    const { frames, masks } = clip(2);
    const path = join(dir, "never.mp4");
    const err = await writeOverlayVideo(path, frames, masks, { ffmpegPath: "/nonexistent/ffmpeg" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as InferenceError).code).toBe(Code.UNAVAILABLE);
    expect((await readdir(dir)).some((f) => f.includes("never"))).toBe(false);
  });

  it.each(["webp", "gif"] as const)("animated preview (%s): one page per frame", async (format) => {
    const { frames, masks } = clip(4);
    const path = join(dir, `preview.${format}`);
    await writeAnimatedPreview(path, frames, masks, { fps: 8 });
    const meta = await sharp(await readFile(path), { animated: true }).metadata();
    expect(meta.format).toBe(format);
    expect(meta.pages).toBe(4);
    expect([meta.width, meta.pageHeight]).toEqual([25, 18]);
  });
});
