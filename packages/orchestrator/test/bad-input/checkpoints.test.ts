/**
 * Bad-input suite, surface "checkpoints": `export` of run folders without checkpoints and of
 * checkpoint files that are empty, truncated, not torch files, pickled objects (code that would
 * run when loaded), legacy pickles, TorchScript, or torch files that are no checkpoint, and
 * `--split` of a generator that has no per-frame features to split off. Each
 * case: non-zero exit, one line `stillmotion: CODE: message` naming the file, no .onnx at --out.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { caseDir, expectFailure, leftovers, runCli, useSharedFixture } from "./harness.js";

const fx = useSharedFixture();

// [checkpoint file in the fixture's checkpoints/ folder, expected code]
const files: Array<[string, string]> = [
  ["missing.pt", "NOT_FOUND"],
  ["empty.pt", "INVALID_ARGUMENT"],
  ["truncated.pt", "INVALID_ARGUMENT"],
  ["text.pt", "INVALID_ARGUMENT"],
  ["pickled-object.pt", "INVALID_ARGUMENT"],
  ["legacy-pickle.pt", "INVALID_ARGUMENT"],
  ["torchscript.pt", "INVALID_ARGUMENT"],
  ["not-a-checkpoint.pt", "INVALID_ARGUMENT"],
];

describe("checkpoints: export --checkpoint", () => {
  it.concurrent.each(files)("%s", async (file, code) => {
    const checkpoint = join(fx.checkpoints, file);
    const dir = caseDir(fx, `checkpoint-${file}`);
    const out = join(dir, "generator.onnx");
    const run = await runCli(["export", fx.runDir, "--checkpoint", checkpoint, "--out", out]);
    expectFailure(run, { code, names: checkpoint, absent: [out] });
    expect(run.stdout).not.toContain("payload ran");
    expect(leftovers(dir)).toEqual([]);
  });
});

describe("checkpoints: export --split", () => {
  it.concurrent("a generator without a warp head", async () => {
    const out = join(caseDir(fx, "checkpoint-split"), "generator.split.onnx");
    const run = await runCli(["export", fx.runDir, "--split", "--out", out]);
    const checkpoints = join(fx.runDir, "checkpoints"); // the run's own, a tiny preset
    expectFailure(run, { code: "INVALID_ARGUMENT", names: checkpoints, absent: [out] });
    expect(run.stderr).toContain("export it without --split");
  });
});

describe("checkpoints: export <runDir>", () => {
  it.concurrent("a run folder without checkpoints", async () => {
    const runDir = join(caseDir(fx, "checkpoint-none"), "run");
    mkdirSync(runDir);
    const out = join(runDir, "..", "generator.onnx");
    const run = await runCli(["export", runDir, "--out", out]);
    expectFailure(run, { code: "NOT_FOUND", names: join(runDir, "checkpoints"), absent: [out] });
  });

  it.concurrent("an empty checkpoints folder", async () => {
    const runDir = join(caseDir(fx, "checkpoint-empty-folder"), "run");
    mkdirSync(join(runDir, "checkpoints"), { recursive: true });
    const out = join(runDir, "..", "generator.onnx");
    const run = await runCli(["export", runDir, "--out", out]);
    expectFailure(run, { code: "NOT_FOUND", names: join(runDir, "checkpoints"), absent: [out] });
  });
});
