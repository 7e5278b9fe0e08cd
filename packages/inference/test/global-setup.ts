/**
 * Builds the test models once per test run, with the real trainer: tiny generators (fixed seeds)
 * exported to ONNX plus PyTorch reference outputs (`infer-reference`), and the non-StillMotion
 * smoke model (`onnx-smoke`). Tests find them through `inject("fixtures")`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import type { TestProject } from "vitest/node";

const run = promisify(execFile);
const PYTHON = process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";
const TRAINER_DIR = resolve(import.meta.dirname, "../../../python-trainer");

export interface Fixtures {
  /** tiny, shared, upsample, 3 channels, 19x27 (odd: exercises the internal padding). */
  shared3: string;
  /** tiny, separate, transposed, 1 channel, 16x13. */
  separate1: string;
  /** realtime preset (half-resolution stem, nearest upsampling), 3 channels, 21x30. */
  realtime3: string;
  /**
   * tiny G(I_t, M_t, I_{t+1}) with the warp mask head (GridSample, opset 16) and a randomised
   * mask_refine correction, 3 channels, 20x27; also exported mask-only as model.masks.onnx.
   */
  nextWarp3: string;
  /**
   * as nextWarp3 (seed 5, 16x20) with a correction that erases every mask, so every step goes
   * through the collapse guard (GeneratorConfig.collapse_guard) in the exported graph.
   */
  nextWarpErasing3: string;
  /** tiny G(I_t, M_t, I_{t+1}) with the conv mask head, 1 channel, 17x22. */
  nextConv1: string;
  /** a plain conv net with inputs [image] and outputs [output], no StillMotion metadata. */
  smoke: string;
  /**
   * the shipped models/real-propagation.pt through the project's export command, mask-only
   * (single graph) and split (features + step graphs; export --split).
   */
  realMasks: string;
  realSplit: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    fixtures: Fixtures;
  }
}

async function trainer(args: string[]): Promise<void> {
  await run(PYTHON, ["-m", "stillmotion_trainer", ...args], {
    cwd: TRAINER_DIR,
    env: { ...process.env, STILLMOTION_THREADS: "1" },
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "stillmotion-inference-test-"));
  const fixtures: Fixtures = {
    shared3: join(dir, "shared3"),
    separate1: join(dir, "separate1"),
    realtime3: join(dir, "realtime3"),
    nextWarp3: join(dir, "next-warp3"),
    nextWarpErasing3: join(dir, "next-warp-erasing3"),
    nextConv1: join(dir, "next-conv1"),
    smoke: join(dir, "smoke"),
    realMasks: join(dir, "real.masks.onnx"),
    realSplit: join(dir, "real.split.onnx"),
  };
  const shipped = resolve(TRAINER_DIR, "../models/real-propagation.pt");
  const ref = ["infer-reference", "--preset", "tiny", "--steps", "3"];
  await Promise.all([
    trainer([
      ...ref,
      "--out",
      fixtures.shared3,
      "--channels",
      "3",
      "--height",
      "19",
      "--width",
      "27",
      "--seed",
      "0",
    ]),
    trainer([
      ...ref,
      ...["--out", fixtures.separate1, "--variant", "separate", "--decoder", "transposed", "--channels", "1"],
      ...["--height", "16", "--width", "13", "--seed", "1"],
    ]),
    trainer([
      "infer-reference",
      "--preset",
      "realtime",
      "--steps",
      "3",
      "--out",
      fixtures.realtime3,
      "--height",
      "21",
      "--width",
      "30",
      "--seed",
      "2",
    ]),
    trainer([
      ...ref,
      ...["--out", fixtures.nextWarp3, "--next-frame-input", "warp-refine", "--channels", "3"],
      ...["--height", "20", "--width", "27", "--seed", "3", "--also-mask-only"],
    ]),
    trainer([
      ...ref,
      ...["--out", fixtures.nextWarpErasing3, "--next-frame-input", "warp-refine", "--erasing-correction"],
      ...["--channels", "3", "--height", "16", "--width", "20", "--seed", "5"],
    ]),
    trainer([
      ...ref,
      ...["--out", fixtures.nextConv1, "--next-frame-input", "conv", "--channels", "1"],
      ...["--height", "17", "--width", "22", "--seed", "4"],
    ]),
    trainer(["onnx-smoke", "--out", fixtures.smoke]),
    trainer(["export", "--checkpoint", shipped, "--out", fixtures.realMasks, "--mask-only"]),
    trainer(["export", "--checkpoint", shipped, "--out", fixtures.realSplit, "--split"]),
  ]);
  project.provide("fixtures", fixtures);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
