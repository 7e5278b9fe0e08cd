// Writers: PNG sequence, overlay mp4 (ffmpeg), animated preview (sharp), dataset format
// (checked by the trainer's own reader: `python -m stillmotion_trainer dataset-check`).
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { Code, InferenceError } from "../errors.js";
import { loadGenerator } from "../generator.js";
import { readImage, readMask } from "../image-io.js";
import type { FloatImage, Mask } from "../image-types.js";
import { overlayPixels } from "../overlay.js";
import { generateFromStill } from "../still-to-video.js";
import { writeAnimatedPreview } from "./animated-preview.js";
import { writeDataset } from "./dataset.js";
import { writeOverlayVideo } from "./overlay-video.js";
import { writePngSequence } from "./png-sequence.js";

const run = promisify(execFile);
const fixtures = inject("fixtures");

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

  it("dataset: generated videos pass the trainer's dataset-check", async () => {
    const generator = await loadGenerator(join(fixtures.shared3, "model.onnx"));
    const still = clip(1);
    const video = await generateFromStill(generator, still.frames[0], still.masks[0], { steps: 3 });
    await generator.dispose();
    const grey = clip(2, 1, 8, 8);
    const out = join(dir, "dataset");
    const result = await writeDataset(
      out,
      [
        { id: "still-000", fps: 10, frames: video.frames, masks: video.masks },
        { id: "grey", fps: 5, frames: grey.frames.map((f) => ({ ...f, channels: 3, data: rgb(f.data) })) },
      ],
      { name: "generated", modality: "endoscopy", source: { tool: "writers.test" } },
    );
    expect(result).toMatchObject({ videos: 2, frames: 6, masks: 4 });
    const manifest = JSON.parse(await readFile(result.manifest, "utf8"));
    expect(manifest.videos[0].frames[1]).toEqual({
      image: "frames/still-000/000001.png",
      keyMask: "masks/still-000/000001.png",
      keySource: "synthetic",
      gtMask: "masks/still-000/000001.png",
    });
    // dataset-check exits 1 on a bad dataset; its JSON report says why, so read it either way
    const { stdout } = await run(
      process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3",
      ["-m", "stillmotion_trainer", "dataset-check", out, "--json"],
      { cwd: resolve(import.meta.dirname, "../../../../python-trainer") },
    ).catch((e: { stdout: string; stderr: string }) => ({
      stdout: e.stdout || `{"stderr": ${JSON.stringify(e.stderr)}}`,
    }));
    const check = JSON.parse(stdout.trim().split("\n").pop() as string);
    expect(check).toMatchObject({ ok: true, videos: 2, frames: 6, keyMasks: 4, gtMasks: 4, errors: [] });
    // a frame read back equals the generated one at 8-bit precision
    const back = await readImage(join(out, "frames/still-000/000002.png"));
    for (let i = 0; i < back.data.length; i++)
      expect(Math.abs(back.data[i] - video.frames[2].data[i])).toBeLessThan(0.5 / 255 + 1e-6);
  });

  it("dataset: refuses to overwrite unless asked, and bad ids name the field", async () => {
    const { frames } = clip(1);
    const out = join(dir, "dataset2");
    await writeDataset(out, [{ id: "a", fps: 1, frames }], { name: "x", modality: "ultrasound" }).catch(
      () => undefined,
    );
    const again = await writeDataset(out, [{ id: "a", fps: 1, frames }], {
      name: "x",
      modality: "endoscopy",
    }).catch((e: unknown) => e);
    expect((again as InferenceError).code).toBe(Code.FAILED_PRECONDITION);
    await writeDataset(out, [{ id: "b", fps: 1, frames }], {
      name: "x",
      modality: "endoscopy",
      overwrite: true,
    });
    expect(await readdir(join(out, "frames"))).toEqual(["b"]);
    const bad = await writeDataset(join(dir, "d3"), [{ id: "../x", fps: 1, frames }], {
      name: "x",
      modality: "endoscopy",
    }).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/videos\[0\].id: expected an id matching/);
  });
});

function rgb(grey: Float32Array): Float32Array {
  const out = new Float32Array(grey.length * 3);
  out.set(grey, 0);
  out.set(grey, grey.length);
  out.set(grey, 2 * grey.length);
  return out;
}
