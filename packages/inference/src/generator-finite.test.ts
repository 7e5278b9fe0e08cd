// Issue N2: a model whose outputs hold NaN (weights of a diverged run) must fail loudly, naming
// the file and the output, instead of yielding black frames and empty masks. The model is the
// trainer's real export with every float weight set to NaN by the `onnx` Python package.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { Code, InferenceError } from "./errors.js";
import { loadGenerator } from "./generator.js";
import { createImage, createMask } from "./image-types.js";

const POISON = `
import sys, numpy as np, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
for init in m.graph.initializer:
    a = numpy_helper.to_array(init)
    if a.dtype.kind == "f":
        init.CopyFrom(numpy_helper.from_array(np.full_like(a, np.nan), init.name))
onnx.save(m, sys.argv[2])
`;

let dir: string;
let poisoned: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stillmotion-nan-test-"));
  poisoned = join(dir, "nan.onnx");
  const python = process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";
  execFileSync(python, ["-c", POISON, join(inject("fixtures").shared3, "model.onnx"), poisoned]);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("non-finite outputs", () => {
  it("step refuses NaN outputs with DATA_LOSS naming the file and the output", async () => {
    const g = await loadGenerator(poisoned);
    try {
      const err = await g.step(createImage(3, 19, 27, 0.5), createMask(19, 27)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InferenceError);
      const e = err as InferenceError;
      expect([e.code, e.reason, e.file]).toEqual([Code.DATA_LOSS, "non_finite_output", poisoned]);
      expect(e.message).toMatch(/^.*nan\.onnx: model output "next_image" has \d+ non-finite value/);
      await expect(g.stepMask(createImage(3, 19, 27, 0.5), createMask(19, 27))).rejects.toThrow(
        /model output "next_mask" has \d+ non-finite value\(s\)/,
      );
    } finally {
      await g.dispose();
    }
  });
});
