/**
 * One error vocabulary (issues M4, N1-N3): whatever package raises it, every failure reaches the
 * CLI user as exactly one line `stillmotion: CODE: message` naming the file, with a non-zero exit.
 * Real inputs: models exported by the trainer (broken copies made with the `onnx` package), a
 * real training run on a dataset with a truncated PNG.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { LossInputError } from "@stillmotion/losses";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { makeSyntheticDataset, runCli, tempDir, tinyConfig } from "../test/helpers.js";
import { DatasetError } from "./dataset/errors.js";
import { asStillMotionError, Code, errorLine, StillMotionError } from "./errors.js";
import { pythonExecutable, trainerDir } from "./trainer/python.js";

/** Broken copies of an exported generator: NaN weights, a renamed input, a float64 input. */
const BREAK_MODEL = `
import sys, numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
src, out = sys.argv[1], sys.argv[2]
m = onnx.load(src)
for init in m.graph.initializer:
    a = numpy_helper.to_array(init)
    if a.dtype.kind == "f":
        init.CopyFrom(numpy_helper.from_array(np.full_like(a, np.nan), init.name))
onnx.save(m, out + "/nan.onnx")
def uses(m, old, new):
    for node in m.graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
m = onnx.load(src)
uses(m, "mask", "masks")
next(i for i in m.graph.input if i.name == "mask").name = "masks"
onnx.save(m, out + "/wrong-inputs.onnx")
m = onnx.load(src)
uses(m, "image", "image_f32")
m.graph.node.insert(0, helper.make_node("Cast", ["image"], ["image_f32"], to=TensorProto.FLOAT))
next(i for i in m.graph.input if i.name == "image").type.tensor_type.elem_type = TensorProto.DOUBLE
onnx.save(m, out + "/float64-input.onnx")
`;

let dir: string;
let stills: string;
const model = (name: string) => join(dir, "models", name);

function trainer(...args: string[]): void {
  execFileSync(pythonExecutable(), args, { cwd: trainerDir(), stdio: ["ignore", "ignore", "pipe"] });
}

beforeAll(async () => {
  dir = tempDir("cli-errors");
  stills = join(dir, "stills");
  mkdirSync(stills);
  await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 120, g: 60, b: 30 } } })
    .png()
    .toFile(join(stills, "a.png"));
  const exported = join(dir, "exported");
  trainer(
    ...["-m", "stillmotion_trainer", "infer-reference", "--preset", "tiny", "--steps", "1"],
    ...["--out", exported, "--channels", "3", "--height", "16", "--width", "16", "--seed", "0"],
  );
  mkdirSync(join(dir, "models"));
  const good = join(exported, "model.onnx");
  trainer("-c", BREAK_MODEL, good, join(dir, "models"));
  const bytes = readFileSync(good);
  writeFileSync(model("truncated.onnx"), bytes.subarray(0, bytes.length >> 1));
  writeFileSync(model("empty.onnx"), "");
  trainer("-m", "stillmotion_trainer", "onnx-smoke", "--out", join(dir, "smoke"));
  copyFileSync(join(dir, "smoke", "tiny.onnx"), model("foreign.onnx"));

  // a 32 px dataset whose 4th frame of video-001 is cut in half (issue N1)
  const dataset = makeSyntheticDataset(join(dir, "data"), 3, 8, 32);
  const frames = join(dataset, "frames", "video-001");
  const frame = join(frames, readdirSync(frames).sort()[3]);
  const png = readFileSync(frame);
  writeFileSync(frame, png.subarray(0, png.length >> 1));
  writeFileSync(
    join(dir, "truncated-frame.json"),
    JSON.stringify(
      tinyConfig(dataset, 40, { data: { dataset, size: 32, clip_len: 3, batch_size: 2, num_workers: 2 } }),
    ),
  );
  writeFileSync(join(dir, "bad-lr.json"), JSON.stringify({ data: { dataset }, train: { lr: -1 } }));
  mkdirSync(join(dir, "no-manifest"));
}, 120_000);

// the shipped still -> video model (warp image head): the one kind --camera applies to
const SHIPPED_WARP = resolve(import.meta.dirname, "../../../models/real-still-to-video.onnx");

const generate = (m: string) => [
  "generate",
  stills,
  "-m",
  model(m),
  "-o",
  join(dir, `out-${m}`),
  "--steps",
  "2",
];

// [what raises, argv, expected code, fragment of the message]
const cases: Array<[string, () => string[], string, () => string]> = [
  [
    "StillMotionError (config)",
    () => ["train", "-c", join(dir, "bad-lr.json")],
    "INVALID_ARGUMENT",
    () => "train.lr: must be > 0",
  ],
  [
    "DatasetError",
    () => ["keyframes", join(dir, "no-manifest")],
    "NOT_FOUND",
    () => `${join(dir, "no-manifest", "manifest.json")}: dataset manifest not found [missing_file]`,
  ],
  ["InferenceError: missing model", () => generate("missing.onnx"), "NOT_FOUND", () => model("missing.onnx")],
  ["InferenceError: empty model", () => generate("empty.onnx"), "DATA_LOSS", () => model("empty.onnx")],
  [
    "InferenceError: truncated model",
    () => generate("truncated.onnx"),
    "DATA_LOSS",
    () => model("truncated.onnx"),
  ],
  [
    "InferenceError: not a generator",
    () => generate("foreign.onnx"),
    "FAILED_PRECONDITION",
    () => `${model("foreign.onnx")}: not a StillMotion generator`,
  ],
  [
    "InferenceError: wrong inputs",
    () => generate("wrong-inputs.onnx"),
    "FAILED_PRECONDITION",
    () => `${model("wrong-inputs.onnx")}: model inputs are [image, masks], expected [image, mask]`,
  ],
  [
    "InferenceError: wrong dtype",
    () => generate("float64-input.onnx"),
    "FAILED_PRECONDITION",
    () => `${model("float64-input.onnx")}: model input "image" is float64`,
  ],
  [
    "InferenceError: NaN outputs (N2)",
    () => generate("nan.onnx"),
    "DATA_LOSS",
    () => `${model("nan.onnx")}: model output "next_image" has 768 non-finite value(s)`,
  ],
  [
    "InferenceError: missing camera profile",
    () => [
      "generate",
      stills,
      "-m",
      SHIPPED_WARP,
      "-o",
      join(dir, "out-camera"),
      "--camera",
      join(dir, "no-camera.json"),
    ],
    "NOT_FOUND",
    () => `${join(dir, "no-camera.json")}: cannot read a camera profile`,
  ],
  [
    "StillMotionError: --scene-motion nonrigid without --camera",
    () => ["generate", stills, "-m", SHIPPED_WARP, "-o", join(dir, "out-keep"), "--scene-motion", "nonrigid"],
    "INVALID_ARGUMENT",
    () => "scene motion nonrigid: only with a camera",
  ],
  [
    "StillMotionError: --scene-motion of an unknown kind",
    () => ["generate", stills, "-m", SHIPPED_WARP, "-o", join(dir, "out-rigid"), "--scene-motion", "rigid"],
    "INVALID_ARGUMENT",
    () => '--scene-motion: expected one of whole, nonrigid, incompressible, got "rigid"',
  ],
  [
    "StillMotionError: --border without --camera",
    () => ["generate", stills, "-m", SHIPPED_WARP, "-o", join(dir, "out-border"), "--border", "0.1"],
    "INVALID_ARGUMENT",
    () => "border 0.1: only with a camera",
  ],
  [
    "InferenceError: --detail without a composed roll-out",
    () => [
      "generate",
      stills,
      "-m",
      SHIPPED_WARP,
      "-o",
      join(dir, "out-detail"),
      "--no-compose",
      "--detail",
      "0.5",
    ],
    "INVALID_ARGUMENT",
    () => "detail: expected unset (compose is off), got 0.5",
  ],
  [
    "system error (ENOTDIR)",
    () => ["generate", join(stills, "a.png"), "-m", model("nan.onnx"), "-o", join(dir, "x")],
    "INVALID_ARGUMENT",
    () => `${join(stills, "a.png")}: not a directory`,
  ],
  [
    "trainer DatasetError mid-run (N1)",
    () => ["train", "-c", join(dir, "truncated-frame.json"), "--run-dir", join(dir, "run-truncated")],
    "INVALID_ARGUMENT",
    () => "/video-001/000003.png: cannot decode image: image file is truncated [unreadable_image]",
  ],
];

describe("every error reaches the CLI user as one line", () => {
  it.each(cases)("%s", async (_what, argv, code, fragment) => {
    const { code: rc, err } = await runCli(...argv());
    expect(err.split("\n"), err).toHaveLength(1);
    expect(err).toMatch(new RegExp(`^stillmotion: ${code}: `));
    expect(err).toContain(fragment());
    expect(rc).toBe(code === "INVALID_ARGUMENT" ? 2 : 1);
  });

  it("maps errors no command raises on purpose too (losses, Node, bugs)", () => {
    const line = (err: unknown) => errorLine(asStillMotionError(err));
    expect(line(new LossInputError("masks", "expected values in [0, 1], got NaN"))).toBe(
      "stillmotion: INVALID_ARGUMENT: masks: expected values in [0, 1], got NaN",
    );
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), {
      code: "ENOSPC",
      syscall: "write",
      path: "/runs/a/report.html",
    });
    expect(line(enospc)).toBe(
      "stillmotion: RESOURCE_EXHAUSTED: /runs/a/report.html: no space left on device (write)",
    );
    expect(line(new TypeError("x is undefined"))).toBe(
      "stillmotion: INTERNAL: unexpected error: TypeError: x is undefined",
    );
    const config = new StillMotionError(Code.INVALID_ARGUMENT, "run.yaml: invalid config\n  a: b\n  c: d");
    expect(line(config)).toBe("stillmotion: INVALID_ARGUMENT: run.yaml: invalid config; a: b; c: d");
    const dataset = new DatasetError("unreadable_image", "/d/1.png", "truncated");
    expect([dataset.code, dataset.reason, dataset instanceof StillMotionError]).toEqual([
      Code.INVALID_ARGUMENT,
      "unreadable_image",
      true,
    ]);
  });
});
