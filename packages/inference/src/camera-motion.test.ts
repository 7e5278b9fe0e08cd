/**
 * camera-motion.ts: the view's field on the vectors shared with the trainer
 * (python-trainer/tests/models/test_model_camera_motion.py) and against its formula in complex
 * numbers, the walk's per-frame spread, profile validation naming the file and field, and a
 * roll-out of the shipped real-still-to-video model through onnxruntime seen through the camera.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  autoExposure,
  type CameraProfile,
  CameraWalk,
  cameraField,
  checkCameraProfile,
  KEEP_TRIES,
  keepLesionInView,
  mirror,
  type Pose,
  readCameraProfile,
  samplePoses,
} from "./camera-motion.js";
import { Code } from "./errors.js";
import { type Generator, loadGenerator } from "./generator.js";
import type { FloatImage, Mask } from "./image-types.js";
import { generateFromStill, sceneStep } from "./still-to-video.js";
import { compose, startComposed } from "./still-to-video-compose.js";

const SHARED_FIELD = [
  [
    [0.849562, 0.736363, 0.623164, -0.509965],
    [0.669799, 0.5566, 0.4434, -0.330201],
    [0.490035, 0.376836, 0.263637, -0.150438],
  ],
  [
    [0.406446, 0.226683, 0.046919, 0.132844],
    [-0.519645, -0.339882, -0.160118, 0.019645],
    [-0.632844, -0.453081, -0.273317, -0.093554],
  ],
];

// shared with test_model_camera_motion.py: keepLesionInView with A(pose) = max(0, 100 - 8 |(dx, dy)|
// + 40 s) (rest 0, keep 0.75: accepted in [75, 133.3]) -> the pose the walk takes
const SHARED_KEEP: [Pose, Pose][] = [
  [
    [1, 0, 0, 0],
    [1, 0, 0, 0],
  ], // A = 92: kept
  [
    [4, 3, 0.1, 0.2],
    [2, 1.5, 0.05, 0.1],
  ], // A = 64, then 82: halved once
  [
    [20, 0, 0, 0],
    [2.5, 0, 0, 0],
  ], // A = 0, 20, 60, then 80: halved three times
  [
    [0, 0, 1, 0],
    [0, 0, 0.5, 0],
  ], // A = 140 (magnified), then 120
  [
    [400, 0, 0, 0.3],
    [0, 0, 0, 0],
  ], // 25 px after four halvings still hides it
];
const sharedArea = (p: Pose) => Math.max(0, 100 - 8 * Math.hypot(p[0], p[1]) + 40 * p[2]);

/** Reflect x about 0 and n - 1 until it lies in [0, n - 1] (the definition, step by step). */
function fold(x: number, n: number): number {
  let y = x;
  while (y < 0 || y > n - 1) y = y < 0 ? -y : 2 * (n - 1) - y;
  return y;
}

const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const PROFILE: CameraProfile = {
  shift_std: 0.05,
  log_zoom_std: 0.06,
  rotation_std: 0.04,
  revert: 0.8,
  rest_zoom: 1.1,
  auto_exposure: false,
};

// the trainer test's auto_exposure vectors: a 2-channel 2 x 3 frame, the still, the view
// (1 = inside; here passed as its border, 1 = outside), the gain 2.7 / 1.8 = 1.5
const SHARED_FRAME = [0.2, 0.4, 0.9, 0.1, 0.0, 0.5, 0.3, 0.2, 0.8, 0.6, 0.7, 0.05];
const SHARED_STILL = [0.5, 0.6, 0.1, 0.4, 0.1, 0.2, 0.4, 0.3, 0.3, 0.5, 0.2, 0.1];
const SHARED_VIEW = [1, 1, 0, 1, 0, 0];
const SHARED_EXPOSED = [0.3, 0.6, 1.0, 0.15, 0.0, 0.75, 0.45, 0.3, 1.0, 0.9, 1.0, 0.075];

describe("cameraField", () => {
  it("matches the shared vectors", () => {
    const f = cameraField([0.5, -0.25, 0.1, 0.2], 3, 4);
    expect(Math.max(...Array.from(f.data, (v, i) => Math.abs(v - SHARED_FIELD.flat(2)[i])))).toBeLessThan(
      1e-5,
    );
  });

  it("mirror folds like reflecting about 0 and n - 1 step by step", () => {
    for (let x = -20; x <= 25; x += 0.25) expect(mirror(x, 6)).toBeCloseTo(fold(x, 6), 12);
    expect(mirror(3.5, 1)).toBe(0);
  });

  it("is the similarity map q = c + d + exp(-s) e^{ia} (p - c), mirrored into the frame", () => {
    const [h, w] = [9, 13];
    const [dx, dy, s, a] = [1.25, -0.5, -0.3, -0.15]; // zoomed out: a border of mirrored pixels
    const f = cameraField([dx, dy, s, a], h, w);
    const [cx, cy] = [(w - 1) / 2, (h - 1) / 2];
    const k = Math.exp(-s);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // complex product (k cos a + i k sin a) (x - cx + i (y - cy))
        const re = k * Math.cos(a) * (x - cx) - k * Math.sin(a) * (y - cy);
        const im = k * Math.sin(a) * (x - cx) + k * Math.cos(a) * (y - cy);
        const qx = fold(cx + dx + re, w);
        const qy = fold(cy + dy + im, h);
        expect(f.data[y * w + x]).toBeCloseTo(qx - x, 5);
        expect(f.data[h * w + y * w + x]).toBeCloseTo(qy - y, 5);
      }
    }
  });
});

describe("autoExposure", () => {
  const image = (data: number[]): FloatImage => ({
    data: Float32Array.from(data),
    channels: 2,
    height: 2,
    width: 3,
  });

  it("matches the shared vectors", () => {
    const border = Uint8Array.from(SHARED_VIEW, (v) => 1 - v);
    const got = autoExposure(image(SHARED_FRAME), image(SHARED_STILL), border);
    expect(maxDiff(got.data, Float32Array.from(SHARED_EXPOSED))).toBeLessThan(1e-6);
  });

  it("sets the whole frame's mean to the still's, and leaves an unlit frame alone", () => {
    const frame = image([0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.05, 0.1, 0.15, 0.05, 0.1, 0.15]);
    const still = image([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]);
    const got = autoExposure(frame, still);
    expect(got.data.reduce((a, b) => a + b, 0)).toBeCloseTo(2.4, 5);
    expect(got.data[2] / got.data[0]).toBeCloseTo(3, 5); // one gain for every pixel
    const black = image(new Array(12).fill(0));
    expect(autoExposure(black, still).data).toEqual(black.data);
  });
});

describe("samplePoses", () => {
  it("starts at rest, keeps the profile's per-frame spread, returns to rest zoom", () => {
    const poses = samplePoses(PROFILE, 40_000, 100, 3);
    expect(poses[0]).toEqual([0, 0, 0, 0]);
    const std = (j: number) => {
      const d = poses.slice(1001).map((p, t) => p[j] - poses[1000 + t][j]);
      const m = d.reduce((x, y) => x + y, 0) / d.length;
      return Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / d.length);
    };
    expect(std(0) / 5).toBeCloseTo(1, 1);
    expect(std(2) / 0.06).toBeCloseTo(1, 1);
    expect(std(3) / 0.04).toBeCloseTo(1, 1);
    const zoom = poses.slice(1000).reduce((x, p) => x + p[2], 0) / 39_000;
    expect(zoom).toBeCloseTo(Math.log(1.1), 2);
  });

  it("caps the log zoom at log max_zoom after each step, and nothing else", () => {
    const free = { ...PROFILE, rest_zoom: 1 };
    const capped = { ...free, max_zoom: 1.05 };
    const a = samplePoses(capped, 4000, 100, 5);
    const b = samplePoses(free, 4000, 100, 5);
    const cap = Math.log(1.05);
    expect(Math.max(...a.map((p) => p[2]))).toBeCloseTo(cap, 12);
    expect(Math.max(...b.map((p) => p[2]))).toBeGreaterThan(2 * cap);
    expect(Math.min(...a.map((p) => p[2]))).toBeLessThan(-2 * cap); // zooming out is not limited
    for (const j of [0, 1, 3]) expect(a.map((p) => p[j])).toEqual(b.map((p) => p[j]));
    // each step: the walk's update from the capped previous pose, then the cap
    const rho = PROFILE.revert;
    const sigma = PROFILE.log_zoom_std * Math.sqrt((1 + rho) / 2);
    for (let t = 1; t < 4000; t++) {
      const noise = (b[t][2] - rho * b[t - 1][2]) / sigma; // the same draw, read off the free walk
      expect(a[t][2]).toBeCloseTo(Math.min(rho * a[t - 1][2] + sigma * noise, cap), 9);
    }
  });

  it("is reproducible per seed; strength 0 glides to rest without noise", () => {
    expect(samplePoses(PROFILE, 5, 64, 1)).toEqual(samplePoses(PROFILE, 5, 64, 1));
    expect(samplePoses(PROFILE, 5, 64, 1)).not.toEqual(samplePoses(PROFILE, 5, 64, 2));
    const still = samplePoses(PROFILE, 4, 64, 1, 0);
    for (const [t, p] of still.entries()) expect(p[2]).toBeCloseTo(Math.log(1.1) * (1 - 0.8 ** t), 12);
    expect(() => samplePoses(PROFILE, 4, 64, 1, -1)).toThrow(/camera strength/);
  });
});

describe("keepLesionInView", () => {
  it("takes the shared vectors' poses", () => {
    for (const [pose, want] of SHARED_KEEP) {
      const got = keepLesionInView(pose, [0, 0, 0, 0], sharedArea, 0.75);
      for (let j = 0; j < 4; j++) expect(got[j]).toBeCloseTo(want[j], 12);
    }
  });

  it("counts its tries and leaves a lesionless view alone", () => {
    const calls: Pose[] = [];
    const rest: Pose = [0, 0, 0, 0];
    const hidden = (p: Pose) => {
      calls.push(p);
      return p.some((v) => v !== 0) ? 0 : 10; // the lesion is seen at rest only
    };
    const got = keepLesionInView([3, 0, 0, 0], rest, hidden, 0.9);
    expect(got).toEqual(rest);
    expect(got).not.toBe(rest);
    expect(calls.length).toBe(2 + KEEP_TRIES); // rest, the pose, its halvings
    expect(calls.slice(1).map((p) => p[0])).toEqual([3, 1.5, 0.75, 0.375, 0.1875]);
    const far: Pose = [50, 0, 0, 0];
    expect(keepLesionInView(far, rest, () => 0, 0.9)).toBe(far); // nothing to keep
  });

  it("steps the walk as samplePoses does", () => {
    const profile = { ...PROFILE, max_zoom: 1.2 };
    const walk = new CameraWalk(profile, 64, 3, 0.8);
    const steps = Array.from({ length: 20 }, () => walk.accept(walk.propose()));
    expect(steps).toEqual(samplePoses(profile, 21, 64, 3, 0.8).slice(1));
  });
});

describe("camera profiles", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stillmotion-camera-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("fills the defaults and names bad fields", () => {
    expect(checkCameraProfile({ shift_std: 0.1, log_zoom_std: 0, rotation_std: 0 })).toMatchObject({
      revert: 0.8,
      rest_zoom: 1,
      auto_exposure: false,
    });
    expect(() => checkCameraProfile({ ...PROFILE, auto_exposure: "yes" })).toThrow(
      /auto_exposure.*expected true or false/,
    );
    expect(() => checkCameraProfile({ ...PROFILE, revert: 1 })).toThrow(
      /revert: expected a number in \[0, 1\)/,
    );
    expect(() => checkCameraProfile({ ...PROFILE, spin: 1 })).toThrow(/unknown fields \[spin\]/);
    expect(checkCameraProfile({ ...PROFILE, max_zoom: null }).max_zoom).toBeNull();
    expect(() => checkCameraProfile({ ...PROFILE, max_zoom: 1.05 })).toThrow(
      /max_zoom.*null or a number in \[rest_zoom 1.1, 4\]/,
    );
    expect(checkCameraProfile({ ...PROFILE, keep_lesion: 0.8 }).keep_lesion).toBe(0.8);
    for (const bad of [0, 1.5, "0.8"]) {
      expect(() => checkCameraProfile({ ...PROFILE, keep_lesion: bad })).toThrow(
        /keep_lesion.*null or a number in \(0, 1\]/,
      );
    }
    expect(() => checkCameraProfile([])).toThrow(/a JSON object/);
  });

  it("reads the shipped profile and names a broken file", async () => {
    const shipped = await readCameraProfile(
      resolve(import.meta.dirname, "../../../models/camera-laryngoscopy.json"),
    );
    expect(shipped.shift_std).toBeGreaterThan(0);
    expect(shipped.auto_exposure).toBe(true);
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{");
    await expect(readCameraProfile(bad)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT, file: bad });
    await expect(readCameraProfile(join(dir, "none.json"))).rejects.toMatchObject({ code: Code.NOT_FOUND });
  });
});

describe("generateFromStill's camera and residual scale (shipped real-still-to-video.onnx)", () => {
  let generator: Generator;
  const [h, w] = [24, 40];
  const still: FloatImage = {
    data: Float32Array.from({ length: 3 * h * w }, (_, i) => 0.5 + 0.4 * Math.sin(i / 7) * Math.cos(i / 23)),
    channels: 3,
    height: h,
    width: w,
  };
  const mask: Mask = {
    data: Float32Array.from({ length: h * w }, (_, i) =>
      Math.abs((i % w) - 20) < 6 && Math.abs(i / w - 12) < 5 ? 1 : 0,
    ),
    height: h,
    width: w,
  };

  beforeAll(async () => {
    generator = await loadGenerator(resolve(import.meta.dirname, "../../../models/real-still-to-video.onnx"));
  }, 60_000);
  afterAll(async () => {
    await generator?.dispose();
  });

  it("without camera motion, the scene's similarity kept, is the camera-less roll-out", async () => {
    const plain = await generateFromStill(generator, still, mask, { steps: 3 });
    const still0 = { ...PROFILE, rest_zoom: 1 }; // strength 0 and rest zoom 1: every pose is 0
    const none = await generateFromStill(generator, still, mask, {
      steps: 3,
      camera: still0,
      cameraStrength: 0,
      sceneMotion: "whole",
    });
    for (let t = 0; t <= 3; t++) {
      expect(maxDiff(none.frames[t].data, plain.frames[t].data)).toBeLessThan(1e-6);
      expect(maxDiff(none.masks[t].data, plain.masks[t].data)).toBeLessThan(1e-6);
    }
  });

  it("shows frame t as the unviewed scene's state seen through pose t's field", async () => {
    const seen = await generateFromStill(generator, still, mask, { steps: 3, camera: PROFILE, seed: 4 });
    const poses = samplePoses(PROFILE, 4, h, 4);
    expect(seen.frames[0]).toBe(still);
    let scene = startComposed(still, mask); // the model steps from the scene, not from the view
    for (let t = 1; t <= 3; t++) {
      const { field, residual } = await generator.stepField(scene.image, scene.mask);
      scene = compose(scene, sceneStep(field, "incompressible"), residual); // less what the camera owns
      const view = compose(scene, cameraField(poses[t], h, w), new Float32Array(residual.length));
      expect(maxDiff(seen.frames[t].data, view.image.data)).toBeLessThan(1e-6);
      expect(maxDiff(seen.masks[t].data, view.mask.data)).toBeLessThan(1e-6);
      expect(maxDiff(seen.frames[t].data, scene.image.data)).toBeGreaterThan(0.01); // it moved
    }
  });

  it("with keep_lesion keeps the lesion's visible area within its factor of the rest pose's", async () => {
    // a lesion at the frame's left edge and a strong camera: the free walk hides or doubles it
    const edge: Mask = {
      data: Float32Array.from({ length: h * w }, (_, i) => (i % w < 6 && Math.abs(i / w - 10) < 4 ? 1 : 0)),
      height: h,
      width: w,
    };
    const strong = { ...PROFILE, rest_zoom: 1, shift_std: 0.1, revert: 0.5 };
    const area = (m: Mask) => m.data.filter((v) => v >= 0.5).length;
    const ratios = async (camera: CameraProfile) => {
      const clip = await generateFromStill(generator, still, edge, {
        steps: 8,
        camera,
        seed: 2,
        residualScale: 0,
        sceneMotion: "whole", // the scene's steps as without a camera
      });
      // the scene alone: the same roll-out without the camera (rest zoom 1: the rest pose is 0)
      const scene = await generateFromStill(generator, still, edge, { steps: 8, residualScale: 0 });
      return clip.masks.slice(1).map((m, t) => area(m) / area(scene.masks[t + 1]));
    };
    const free = await ratios(strong);
    expect(free.some((r) => r < 0.8 || r > 1.25)).toBe(true);
    const kept = await ratios({ ...strong, keep_lesion: 0.8 });
    for (const r of kept) expect(r >= 0.8 && r <= 1.25).toBe(true);
  });

  it("with auto_exposure shows the same view at the still's mean brightness", async () => {
    const camera = { ...PROFILE, auto_exposure: true };
    const plain = await generateFromStill(generator, still, mask, { steps: 3, camera: PROFILE, seed: 4 });
    const lit = await generateFromStill(generator, still, mask, { steps: 3, camera, seed: 4 });
    const mean = (d: Float32Array) => d.reduce((a, b) => a + b, 0) / d.length;
    for (let t = 1; t <= 3; t++) {
      expect(maxDiff(lit.frames[t].data, autoExposure(plain.frames[t], still).data)).toBeLessThan(1e-6);
      expect(mean(lit.frames[t].data)).toBeCloseTo(mean(still.data), 4); // nothing clips here
      expect(lit.masks[t].data).toEqual(plain.masks[t].data);
    }
  });

  it("scales each step's residual by residualScale (0: the still moved only)", async () => {
    for (const rho of [0, 0.5]) {
      const clip = await generateFromStill(generator, still, mask, { steps: 3, residualScale: rho });
      let scene = startComposed(still, mask);
      for (let t = 1; t <= 3; t++) {
        const { field, residual } = await generator.stepField(scene.image, scene.mask);
        scene = compose(
          scene,
          field,
          residual.map((v) => rho * v),
        );
        expect(maxDiff(clip.frames[t].data, scene.image.data)).toBeLessThan(1e-6);
      }
      if (rho === 0) {
        const moved = compose(startComposed(still, mask), scene.field, new Float32Array(still.data.length));
        expect(maxDiff(clip.frames[3].data, moved.image.data)).toBeLessThan(1e-5);
      }
    }
    await expect(generateFromStill(generator, still, mask, { residualScale: -1 })).rejects.toThrow(
      /residualScale/,
    );
  });

  it("is refused without a composed roll-out", async () => {
    await expect(
      generateFromStill(generator, still, mask, { compose: false, camera: PROFILE }),
    ).rejects.toThrow(/camera/);
    await expect(generateFromStill(generator, still, mask, { compose: false, detail: 0.5 })).rejects.toThrow(
      /detail/,
    );
    await expect(generateFromStill(generator, still, mask, { detail: -1 })).rejects.toThrow(/detail/);
  });
});
