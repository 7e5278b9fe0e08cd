// generateFromStill with the warp image head (image_head: warp, python-trainer
// models/image_warp.py): the shipped models/real-still-to-video.pt, exported by the trainer's
// infer-reference, rolled out by onnxruntime-node like PyTorch, on a non-square still, and the
// generated clip keeps the still's colours (identity by construction). The default roll-out
// composes the fields (still-to-video-compose.ts, Python models/still_to_video.py); compose:
// false resamples the previous frame (Python models/next_frame.generation_step).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { maxAbsDiff, type Reference, readReference } from "../test/reference.js";
import type { CameraProfile } from "./camera-motion.js";
import { type Generator, loadGenerator } from "./generator.js";
import { generateFromStill, SCENE_MOTIONS, type SceneMotion } from "./still-to-video.js";
import { sampleBicubic } from "./still-to-video-compose.js";

const run = promisify(execFile);
const TRAINER_DIR = resolve(import.meta.dirname, "../../../python-trainer");
const SHIPPED = resolve(TRAINER_DIR, "../models/real-still-to-video.pt");
// the same bound as parity.test.ts's warp chains: the frozen mask-side soft arg-min amplifies
// float32 rounding between the runtimes; the image field itself is a smooth function
const CHAIN_TOLERANCE = 1e-3;

describe("generateFromStill with the warp image head (shipped real-still-to-video)", () => {
  let dir: string;
  let generator: Generator;
  let ref: Reference;
  let composed: { image: Float32Array; mask: Float32Array }[];
  let composedHalf: { image: Float32Array; mask: Float32Array }[];
  let composedNonrigid: { image: Float32Array; mask: Float32Array }[];
  let composedIncompressible: { image: Float32Array; mask: Float32Array }[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stillmotion-warp-head-"));
    const args = ["-m", "stillmotion_trainer", "infer-reference", "--checkpoint", SHIPPED];
    args.push("--out", dir, "--steps", "4", "--height", "24", "--width", "40", "--seed", "5");
    await run(process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3", args, {
      cwd: TRAINER_DIR,
      env: { ...process.env, STILLMOTION_THREADS: "1" },
    });
    generator = await loadGenerator(join(dir, "model.onnx"));
    ref = await readReference(dir);
    const raw = JSON.parse(await readFile(join(dir, "reference.json"), "utf8"));
    const steps = (list: { image: { data: number[] }; mask: { data: number[] } }[]) =>
      list.map((s) => ({ image: Float32Array.from(s.image.data), mask: Float32Array.from(s.mask.data) }));
    composed = steps(raw.rollout_composed);
    composedHalf = steps(raw.rollout_composed_half);
    composedNonrigid = steps(raw.rollout_composed_nonrigid);
    composedIncompressible = steps(raw.rollout_composed_incompressible);
  }, 120_000);
  afterAll(async () => {
    await generator?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("is a next-frame model whose motion mask is the image field's", () => {
    expect(generator.metadata.generatorConfig.image_head).toBe("warp");
    expect(generator.takesNextFrame).toBe(true);
    expect(generator.hasMotionMask).toBe(true);
    expect(generator.hasImageField).toBe(true);
  });

  it("composes the fields like PyTorch on a 40x24 still, image and mask", async () => {
    expect(composed).toHaveLength(4);
    const video = await generateFromStill(generator, ref.image, ref.mask, { steps: composed.length });
    expect(video.frames.map((f) => [f.width, f.height])).toEqual(Array(5).fill([40, 24]));
    composed.forEach((r, t) => {
      expect(maxAbsDiff(video.frames[t + 1].data, r.image)).toBeLessThan(CHAIN_TOLERANCE);
      expect(maxAbsDiff(video.masks[t + 1].data, r.mask)).toBeLessThan(CHAIN_TOLERANCE);
    });
  });

  it("runs the image branch at half size like PyTorch (motionDownsample 2, motion-scale.ts)", async () => {
    expect(composedHalf).toHaveLength(4);
    const video = await generateFromStill(generator, ref.image, ref.mask, {
      steps: composedHalf.length,
      motionDownsample: 2,
    });
    expect(video.motionDownsample).toBe(2);
    composedHalf.forEach((r, t) => {
      expect(maxAbsDiff(video.frames[t + 1].data, r.image)).toBeLessThan(CHAIN_TOLERANCE);
      expect(maxAbsDiff(video.masks[t + 1].data, r.mask)).toBeLessThan(CHAIN_TOLERANCE);
    });
    // this export has no run config: the default is the frame's own size
    expect((await generateFromStill(generator, ref.image, ref.mask, { steps: 1 })).motionDownsample).toBe(1);
    await expect(
      generateFromStill(generator, ref.image, ref.mask, { steps: 1, compose: false, motionDownsample: 2 }),
    ).rejects.toThrow(/motionDownsample.*compose is off/);
    await expect(
      generateFromStill(generator, ref.image, ref.mask, { steps: 1, motionDownsample: 0 }),
    ).rejects.toThrow(/motionDownsample/);
  });

  it("under a camera keeps what the scene keeps like PyTorch (SCENE_MOTIONS)", async () => {
    // a camera that does not move: the frames are the scene's own
    const still: CameraProfile = { shift_std: 0, log_zoom_std: 0, rotation_std: 0, revert: 0, rest_zoom: 1 };
    const options = { steps: composed.length, camera: still, borderThreshold: 0 };
    const expected = { incompressible: composedIncompressible, nonrigid: composedNonrigid, whole: composed };
    const byDefault = await generateFromStill(generator, ref.image, ref.mask, options);
    for (const scene of SCENE_MOTIONS) {
      const video = await generateFromStill(generator, ref.image, ref.mask, {
        ...options,
        sceneMotion: scene,
      });
      expected[scene].forEach((r, t) => {
        expect(maxAbsDiff(video.frames[t + 1].data, r.image)).toBeLessThan(CHAIN_TOLERANCE);
        expect(maxAbsDiff(video.masks[t + 1].data, r.mask)).toBeLessThan(CHAIN_TOLERANCE);
        if (scene === "incompressible")
          expect(byDefault.frames[t + 1].data).toEqual(video.frames[t + 1].data);
      });
    }
    expect(maxAbsDiff(composedIncompressible[3].image, composedNonrigid[3].image)).toBeGreaterThan(1e-3);
    await expect(
      generateFromStill(generator, ref.image, ref.mask, { steps: 1, sceneMotion: "nonrigid" }),
    ).rejects.toThrow(/sceneMotion.*only when there is a camera/);
    await expect(
      generateFromStill(generator, ref.image, ref.mask, { ...options, sceneMotion: "rigid" as SceneMotion }),
    ).rejects.toThrow(/sceneMotion.*one of whole, nonrigid, incompressible/);
  });

  it("a field step is the image branch's: moving the still by it gives next_image", async () => {
    const { field, residual } = await generator.stepField(ref.image, ref.mask);
    const { image } = await generator.step(ref.image, ref.mask, ref.image);
    const moved = sampleBicubic(ref.image, field).map((v, i) => Math.min(Math.max(v + residual[i], 0), 1));
    expect(maxAbsDiff(moved, image.data)).toBeLessThan(1e-4);
  });

  it("without compose resamples the previous frame like PyTorch's generation_step", async () => {
    const video = await generateFromStill(generator, ref.image, ref.mask, {
      steps: ref.rollout.length,
      compose: false,
    });
    expect(video.frames.map((f) => [f.width, f.height])).toEqual(Array(5).fill([40, 24]));
    ref.rollout.forEach((r, t) => {
      expect(maxAbsDiff(video.frames[t + 1].data, r.image.data)).toBeLessThan(CHAIN_TOLERANCE);
      expect(maxAbsDiff(video.masks[t + 1].data, r.mask.data)).toBeLessThan(CHAIN_TOLERANCE);
    });
  });

  it("refuses a strength without composing, names why", async () => {
    await expect(
      generateFromStill(generator, ref.image, ref.mask, { steps: 1, compose: false, strength: 2 }),
    ).rejects.toThrow(/strength.*compose is off/);
    await expect(
      generateFromStill(generator, ref.image, ref.mask, { steps: 1, strength: 0 }),
    ).rejects.toThrow(/strength.*a number > 0/);
  });

  it("keeps the still's colours: per-channel mean within 0.03 after 4 steps", async () => {
    const video = await generateFromStill(generator, ref.image, ref.mask, { steps: 4 });
    const mean = (data: Float32Array, c: number, n: number) =>
      data.subarray(c * n, (c + 1) * n).reduce((a, b) => a + b, 0) / n;
    const n = ref.image.width * ref.image.height;
    for (let c = 0; c < ref.image.channels; c++) {
      const drift = Math.abs(mean(video.frames[4].data, c, n) - mean(ref.image.data, c, n));
      expect(drift).toBeLessThan(0.03);
    }
  });
});
