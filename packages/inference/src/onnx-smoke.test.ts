/**
 * ONNX smoke test of the toolchain: PyTorch exports a tiny conv net (torch.onnx.export), and
 * onnxruntime-node (through backend/onnx.ts, the package's only onnxruntime importer) must
 * reproduce torch's output within 1e-5.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

import { createOnnxSession } from "./backend/onnx.js";

const trainerDir = resolve(fileURLToPath(new URL("../../../python-trainer", import.meta.url)));
const outDir = mkdtempSync(join(tmpdir(), "stillmotion-onnx-smoke-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("ONNX smoke: torch.onnx.export -> onnxruntime-node", () => {
  it("matches torch within 1e-5", async () => {
    execFileSync(
      process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3",
      ["-m", "stillmotion_trainer", "onnx-smoke", "--out", outDir],
      {
        cwd: trainerDir,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const sample = JSON.parse(readFileSync(join(outDir, "sample.json"), "utf8")) as {
      input_shape: number[];
      input: number[];
      output_shape: number[];
      output: number[];
    };
    const path = join(outDir, "tiny.onnx");
    const session = await createOnnxSession(readFileSync(path), path);
    const result = await session.run({
      image: { data: Float32Array.from(sample.input), dims: sample.input_shape },
    });
    await session.release();
    const output = result.output;
    expect(output.dims).toEqual(sample.output_shape);
    const data = output.data;
    let maxDiff = 0;
    for (let i = 0; i < data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(data[i] - sample.output[i]));
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });
});
