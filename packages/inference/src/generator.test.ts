// loadGenerator: metadata is read and checked; corrupt, foreign or tampered files fail with a
// typed error naming the file; session options default to speed and can be overridden.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { editMetadata } from "../test/onnx-edit.js";
import { Code, InferenceError } from "./errors.js";
import { configHash, loadGenerator } from "./generator.js";

const fixtures = inject("fixtures");
const model = join(fixtures.shared3, "model.onnx");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stillmotion-gen-test-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function variant(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, `${name}.onnx`);
  await writeFile(path, bytes);
  return path;
}

async function expectError(path: string, code: Code, message: RegExp): Promise<void> {
  const err = await loadGenerator(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InferenceError);
  expect((err as InferenceError).code).toBe(code);
  expect((err as InferenceError).file).toBe(path);
  expect((err as InferenceError).message).toMatch(message);
  expect((err as InferenceError).message.startsWith(path)).toBe(true);
}

describe("loadGenerator", () => {
  it("reads the exporter's metadata", async () => {
    const g = await loadGenerator(model);
    try {
      expect(g.channels).toBe(3);
      expect(g.metadata).toMatchObject({
        format: "stillmotion.generator.onnx.v1",
        preset: "tiny",
        valueRange: "0..1",
        padMultiple: 4,
        opset: 13,
      });
      expect(g.metadata.generatorConfig).toMatchObject({ variant: "shared", channels: 3, depth: 2 });
      expect(g.metadata.configHash).toBe(configHash(g.metadata.generatorConfig));
    } finally {
      await g.dispose();
    }
  });

  it("defaults to all cores and full graph optimisation, and takes overrides", async () => {
    const g = await loadGenerator(model);
    expect(g.sessionOptions).toMatchObject({
      intraOpNumThreads: availableParallelism(),
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      allowSpinning: false,
    });
    await g.dispose();
    const h = await loadGenerator(model, {
      session: { intraOpNumThreads: 1, graphOptimizationLevel: "basic" },
    });
    expect(h.sessionOptions).toMatchObject({ intraOpNumThreads: 1, graphOptimizationLevel: "basic" });
    await h.dispose();
  });

  it("missing file -> NOT_FOUND", async () => {
    await expectError(join(tmpdir(), "no-such-model.onnx"), Code.NOT_FOUND, /no such model file/);
  });

  it("random bytes or a truncated file -> DATA_LOSS", async () => {
    await expectError(
      await variant("garbage", Uint8Array.from([0xff, 0xff, 0xff])),
      Code.DATA_LOSS,
      /not a valid ONNX/,
    );
    const bytes = await readFile(model);
    await expectError(
      await variant("truncated", bytes.subarray(0, bytes.length - 100)),
      Code.DATA_LOSS,
      /ONNX/,
    );
  });

  it("an ONNX file without StillMotion metadata -> FAILED_PRECONDITION", async () => {
    const stripped = editMetadata(await readFile(model), () => ({}));
    await expectError(
      await variant("stripped", stripped),
      Code.FAILED_PRECONDITION,
      /stillmotion.format" is missing/,
    );
  });

  it("an unknown format version -> FAILED_PRECONDITION listing the supported one", async () => {
    const v2 = editMetadata(await readFile(model), (m) => ({
      ...m,
      "stillmotion.format": "stillmotion.generator.onnx.v2",
    }));
    await expectError(
      await variant("v2", v2),
      Code.FAILED_PRECONDITION,
      /Should be one of: stillmotion.generator.onnx.v1/,
    );
  });

  it("a generator config that does not match its hash -> DATA_LOSS", async () => {
    const tampered = editMetadata(await readFile(model), (m) => {
      const cfg = JSON.parse(m["stillmotion.generator_config"]);
      return { ...m, "stillmotion.generator_config": JSON.stringify({ ...cfg, base_width: 64 }) };
    });
    await expectError(await variant("tampered", tampered), Code.DATA_LOSS, /config_hash.*does not match/);
  });

  it("channels in metadata disagreeing with the graph -> FAILED_PRECONDITION", async () => {
    const one = editMetadata(await readFile(model), (m) => ({ ...m, "stillmotion.channels": "1" }));
    await expectError(
      await variant("channels", one),
      Code.FAILED_PRECONDITION,
      /input "image".*expected float32 \[batch, 1/,
    );
  });

  it("a graph with other inputs/outputs -> FAILED_PRECONDITION naming them", async () => {
    // the smoke net (input "image", output "output") dressed in a real generator's metadata
    const meta = readMeta(await readFile(model));
    const foreign = editMetadata(await readFile(join(fixtures.smoke, "tiny.onnx")), () => meta);
    await expectError(
      await variant("foreign", foreign),
      Code.FAILED_PRECONDITION,
      /inputs are \[image\], expected \[image, mask\] \(missing: mask\)/,
    );
  });

  it("a next_frame input that the generator config does not declare -> FAILED_PRECONDITION", async () => {
    const bytes = await readFile(join(fixtures.nextWarp3, "model.onnx"));
    const edited = editMetadata(bytes, (m) => {
      const config = { ...JSON.parse(m["stillmotion.generator_config"]), next_frame_input: false };
      return {
        ...m,
        "stillmotion.generator_config": JSON.stringify(config),
        "stillmotion.config_hash": configHash(config),
      };
    });
    await expectError(
      await variant("undeclared-next-frame", edited),
      Code.FAILED_PRECONDITION,
      /inputs include "next_frame" but its generator config says next_frame_input=false/,
    );
  });
});

describe("next-frame generators G(I_t, M_t, I_{t+1})", () => {
  const image = { data: new Float32Array(3 * 8 * 8).fill(0.5), channels: 3 as const, height: 8, width: 8 };
  const mask = { data: new Float32Array(8 * 8), height: 8, width: 8 };

  it("are detected from the model's inputs and need the next frame", async () => {
    const g = await loadGenerator(join(fixtures.nextWarp3, "model.onnx"));
    try {
      expect(g.takesNextFrame).toBe(true);
      await expect(g.step(image, mask)).rejects.toMatchObject({
        code: Code.INVALID_ARGUMENT,
        message: expect.stringMatching(/nextFrames: expected the real next frame/),
      });
      const out = await g.step(image, mask, image);
      expect(out.mask.data).toHaveLength(64);
    } finally {
      await g.dispose();
    }
  });

  it("a literal generator refuses a next frame instead of ignoring it", async () => {
    const g = await loadGenerator(model);
    try {
      expect(g.takesNextFrame).toBe(false);
      await expect(g.step(image, mask, image)).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    } finally {
      await g.dispose();
    }
  });
});

function readMeta(bytes: Uint8Array): Record<string, string> {
  let meta: Record<string, string> = {};
  editMetadata(bytes, (m) => {
    meta = m;
    return m;
  });
  return meta;
}
