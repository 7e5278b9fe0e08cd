// generateVideos with the shipped warp-image-head model (models/real-still-to-video.onnx) on a
// non-square still: the aspect is kept, --stride takes every n-th step, and every clip gets a
// contact sheet and its quality numbers beside it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decode, encodePng } from "@stillmotion/inference";
import { afterAll, describe, expect, it } from "vitest";

import { generateVideos, keepAspect } from "./generate-videos.js";

const MODEL = resolve(import.meta.dirname, "../../../../models/real-still-to-video.onnx");
const dir = mkdtempSync(join(tmpdir(), "stillmotion-generate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writeStill(root: string, width: number, height: number): Promise<void> {
  mkdirSync(join(root, "images"), { recursive: true });
  mkdirSync(join(root, "masks"), { recursive: true });
  const rgb = new Uint8Array(width * height * 3);
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      for (let k = 0; k < 3; k++) rgb[i * 3 + k] = Math.round(127 + 100 * Math.sin(0.31 * x + 0.23 * y + k));
      grey[i] = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2 ? 255 : 0;
    }
  }
  writeFileSync(join(root, "images", "s0.png"), await encodePng({ data: rgb, channels: 3, height, width }));
  writeFileSync(join(root, "masks", "s0.png"), await encodePng({ data: grey, channels: 1, height, width }));
}

describe("generateVideos", () => {
  it("keepAspect scales the longer side to the size", () => {
    expect(keepAspect(512, 384, 128)).toEqual({ width: 128, height: 96 });
    expect(keepAspect(300, 600, 64)).toEqual({ width: 32, height: 64 });
    expect(keepAspect(1000, 10, 64)).toEqual({ width: 64, height: 8 });
  });

  it("keeps the still's aspect and writes a contact sheet and metrics per clip", async () => {
    await writeStill(join(dir, "stills"), 60, 36);
    const out = join(dir, "out");
    const result = await generateVideos({
      model: MODEL,
      stills: [
        { id: "s0", image: join(dir, "stills/images/s0.png"), mask: join(dir, "stills/masks/s0.png") },
      ],
      outDir: out,
      steps: 3,
      stride: 2,
      strength: 1.5,
      size: 40,
    });
    const [clip] = result.clips;
    expect(clip.video.frames).toHaveLength(4); // the still + 3 kept frames of 6 model steps
    expect(clip.video.frames.map((f) => [f.width, f.height])).toEqual(Array(4).fill([40, 24]));
    const sheet = await decode(readFileSync(clip.contactSheet), 3);
    expect([sheet.width, sheet.height]).toEqual([4 * 40 + 3 * 2, 24]);
    const metrics = JSON.parse(readFileSync(join(out, "clips", "s0", "metrics.json"), "utf8"));
    expect(metrics).toMatchObject({ id: "s0", width: 40, height: 24 });
    expect(metrics.consecutiveSsim).toHaveLength(3);
    expect(metrics.colourDriftMax).toBeLessThan(0.1);
    expect(metrics.areaRatio).toBeGreaterThan(0.7);
    // the shipped model was trained at 128 px: its image branch sees a 40 px frame at its own size
    expect(metrics.motionDownsample).toBe(1);
    const half = await generateVideos({
      model: MODEL,
      stills: [{ id: "s0", image: join(dir, "stills/images/s0.png") }],
      outDir: join(dir, "out-half"),
      steps: 1,
      size: 40,
      motionDownsample: 2,
    });
    expect(half.clips[0].motionDownsample).toBe(2);
    expect(JSON.parse(readFileSync(half.metrics, "utf8")).clips[0].motionDownsample).toBe(2);
    const all = JSON.parse(readFileSync(result.metrics, "utf8"));
    // the shipped model has the warp image head: its fields are composed by default
    expect(all).toMatchObject({ steps: 3, stride: 2, strength: 1.5, composed: true, clips: [{ id: "s0" }] });
    expect(existsSync(join(out, "dataset", "manifest.json"))).toBe(true);
  });

  it("sees the clips through a camera profile: the clip moves, the lesion keeps its area", async () => {
    const out = join(dir, "out-camera");
    const stills = [
      { id: "s0", image: join(dir, "stills/images/s0.png"), mask: join(dir, "stills/masks/s0.png") },
    ];
    const camera = resolve(import.meta.dirname, "../../../../models/camera-laryngoscopy.json");
    const base = { model: MODEL, stills, steps: 4, size: 48 };
    const plain = await generateVideos({ ...base, outDir: join(dir, "out-plain") });
    const result = await generateVideos({ ...base, outDir: out, camera });
    const ssim = (r: typeof result) => r.clips[0].quality.consecutiveSsim;
    // the camera moves the view (lower consecutive SSIM than the model's own motion) ...
    expect(Math.max(...ssim(result))).toBeLessThan(Math.min(...ssim(plain)));
    // ... and the mask goes with it
    expect(result.clips[0].quality.areaRatio).toBeGreaterThan(0.6);
    expect(result.clips[0].quality.areaRatio).toBeLessThan(1.6);
    const all = JSON.parse(readFileSync(result.metrics, "utf8"));
    // with a camera a still's dark surround stays fixed (none in this still: nothing to fix)
    // ... and the still's fine detail moves by whole pixels (detail-sampling.ts, sigma 1 by default)
    // ... and the scene's steps lose what the camera owns: similarity and divergence (sceneStep)
    expect(all).toMatchObject({
      camera,
      cameraStrength: 1,
      sceneMotion: "incompressible",
      composed: true,
      borderThreshold: 0.05,
      detail: 1,
    });
    expect(JSON.parse(readFileSync(plain.metrics, "utf8")).sceneMotion).toBe("whole");
    const kept = await generateVideos({
      ...base,
      outDir: join(dir, "out-kept"),
      camera,
      sceneMotion: "nonrigid",
    });
    expect(JSON.parse(readFileSync(kept.metrics, "utf8")).sceneMotion).toBe("nonrigid");
    await expect(
      generateVideos({ ...base, outDir: join(dir, "out-kept-plain"), sceneMotion: "nonrigid" }),
    ).rejects.toThrow(/only with a camera/);
    expect(JSON.parse(readFileSync(plain.metrics, "utf8")).borderThreshold).toBeNull();
    const bicubic = await generateVideos({ ...base, outDir: join(dir, "out-bicubic"), camera, detail: 0 });
    expect(JSON.parse(readFileSync(bicubic.metrics, "utf8")).detail).toBe(0);
    // at sub-pixel maps bicubic loses some of the still's fine detail, the default keeps more
    expect(bicubic.clips[0].quality.sharpnessRatio).toBeLessThan(
      result.clips[0].quality.sharpnessRatio as number,
    );
    // a broken profile is named before anything is written
    const bad = join(dir, "bad-camera.json");
    writeFileSync(bad, JSON.stringify({ shift_std: 2, log_zoom_std: 0, rotation_std: 0 }));
    await expect(generateVideos({ ...base, outDir: join(dir, "out-bad"), camera: bad })).rejects.toThrow(
      /bad-camera\.json: shift_std: expected a number in \[0, 1\)/,
    );
    expect(existsSync(join(dir, "out-bad", "metrics.json"))).toBe(false);
  });

  it("refuses size together with width and height", async () => {
    await expect(
      generateVideos({ model: MODEL, stills: [], outDir: join(dir, "bad"), size: 32, width: 32, height: 32 }),
    ).rejects.toThrow(/size: give either size or width and height/);
  });
});
