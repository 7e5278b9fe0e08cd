import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadGenerator } from "@stillmotion/inference";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  runCli as cli,
  makeSyntheticDataset,
  tempDir,
  tinyConfig,
  trainTinyRun,
} from "../../test/helpers.js";
import { adaptArgs } from "./adapt.js";

let dir: string;
let dataset: string;
let checkpoint: string;

beforeAll(() => {
  // A real tiny run whose generator has the learned correction (warp head + mask_refine).
  dir = tempDir("adapt");
  dataset = makeSyntheticDataset(dir, 2, 5, 16);
  const runDir = trainTinyRun(
    dir,
    tinyConfig(dataset, 1, {
      model: { preset: "tiny", overrides: { next_frame_input: true, mask_head: "warp", mask_refine: true } },
      checkpoint: { every_n_steps: 1, keep_last: 1 },
    }),
  );
  checkpoint = join(runDir, "checkpoints", "step-00000001.pt");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("stillmotion adapt", () => {
  it("passes every option to the trainer", () => {
    expect(
      adaptArgs({
        checkpoint: "/m.pt",
        dataset: "/ds",
        out: "/a.pt",
        video: ["v1", "v2"],
        steps: 7,
        seed: 3,
        size: "64",
      }),
    ).toEqual([
      "adapt",
      "--checkpoint",
      "/m.pt",
      "--dataset",
      "/ds",
      "--video",
      "v1",
      "--video",
      "v2",
      "--steps",
      "7",
      "--seed",
      "3",
      "--size",
      "64",
      "--out",
      "/a.pt",
    ]);
  });

  it("adapts, exports, and the adapted model propagates with --reference key", async () => {
    const out = join(dir, "adapted.pt");
    const onnx = join(dir, "adapted.onnx");
    const r = await cli(
      "adapt",
      "--checkpoint",
      checkpoint,
      "--dataset",
      dataset,
      "--steps",
      "2",
      "--out",
      out,
      "--onnx",
      onnx,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^adapted to 2 key frame\(s\) of video-000, video-001 in 2 steps/);
    expect(r.out).toContain(`exported -> ${onnx}`);
    expect(existsSync(out) && existsSync(onnx)).toBe(true);
    const generator = await loadGenerator(onnx);
    try {
      expect(generator.layout).toBe("split"); // propagation's fastest layout (adapt.ts)
    } finally {
      await generator.dispose();
    }
    const masks = join(dir, "masks");
    const p = await cli("propagate", dataset, "-m", onnx, "--reference", "key", "-o", masks, "--no-video");
    expect(p.code, p.err).toBe(0);
    expect(readdirSync(join(masks, "videos", "video-000")).filter((f) => f.startsWith("mask_"))).toHaveLength(
      5,
    );
  }, 240_000);

  it("refuses an unknown video in one line, writing nothing", async () => {
    const out = join(dir, "nope.pt");
    const r = await cli(
      "adapt",
      "--checkpoint",
      checkpoint,
      "--dataset",
      dataset,
      "--video",
      "video-9",
      "--out",
      out,
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^stillmotion: NOT_FOUND: .*no video 'video-9'/);
    expect(existsSync(out)).toBe(false);
  });
});
