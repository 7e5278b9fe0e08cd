/**
 * Bad-input suite, surface "ONNX": models that are missing, empty, truncated, not ONNX, not a
 * StillMotion generator, with renamed inputs or NaN weights, given to `generate` and `propagate`.
 * Each case: non-zero exit, one line `stillmotion: CODE: message` naming the model, nothing at
 * the output path.
 */
import { join } from "node:path";
import { describe, it } from "vitest";
import { caseDir, expectFailure, runCli, useSharedFixture } from "./harness.js";

const fx = useSharedFixture();

// [model file in the fixture's models/ folder, expected code]
const models: Array<[string, string]> = [
  ["missing.onnx", "NOT_FOUND"],
  ["empty.onnx", "DATA_LOSS"],
  ["truncated.onnx", "DATA_LOSS"],
  ["text.onnx", "DATA_LOSS"],
  ["foreign.onnx", "FAILED_PRECONDITION"],
  ["no-metadata.onnx", "FAILED_PRECONDITION"],
  ["renamed-input.onnx", "FAILED_PRECONDITION"],
  ["nan-weights.onnx", "DATA_LOSS"],
];

describe("ONNX: generate", () => {
  it.concurrent.each(models)("%s", async (file, code) => {
    const model = join(fx.models, file);
    const out = join(caseDir(fx, `onnx-generate-${file}`), "out");
    const run = await runCli(["generate", fx.stills, "-m", model, "-o", out, "--steps", "2"]);
    expectFailure(run, { code, names: model, absent: [out] });
  });
});

describe("ONNX: propagate", () => {
  // NaN weights show in propagate's mask output as well as in generate's image output.
  it.concurrent.each(models)("%s", async (file, code) => {
    const model = join(fx.models, file);
    const out = join(caseDir(fx, `onnx-propagate-${file}`), "out");
    const run = await runCli(["propagate", fx.dataset, "-m", model, "-o", out, "--no-video"]);
    expectFailure(run, { code, names: model, absent: [out] });
  });
});
