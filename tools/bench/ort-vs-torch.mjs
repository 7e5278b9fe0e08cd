#!/usr/bin/env node
/**
 * Benchmark `ort_vs_torch_latency_ratio`: onnxruntime-node time / PyTorch eager time per frame,
 * same model (the `realtime` preset, random weights, seed 0: both sides build the identical
 * network), same 256x256 input, batch 1, measured side by side in one run.
 *
 * PyTorch runs in a helper process (generator_bench_helper.py serve: torch.no_grad, eval mode,
 * threads = available cores) that also exports the ONNX file. Rounds alternate torch and
 * onnxruntime so both meet the same machine load; each side's figure is its median round.
 * onnxruntime is timed through the library (Generator.step, default session options).
 *
 * Last stdout line: {"metric":"ort_vs_torch_latency_ratio","value":...,"goal":"<= 0.8",...}
 * Options: --rounds R (default 7), --frames N per round (default 20), --preset (default realtime),
 * --quick (3 rounds of 10 frames).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { benchOptions, importInference, median, ROOT, spawnPython } from "./lib/setup.mjs";

const opts = benchOptions({ rounds: "7", frames: "20", preset: "realtime" });
const ROUNDS = opts.quick ? 3 : Number(opts.rounds); // --quick: fewer, shorter rounds
const FRAMES = opts.quick ? 10 : Number(opts.frames);
const SIZE = 256;

const { loadGenerator } = await importInference();

const dir = mkdtempSync(join(tmpdir(), "stillmotion-bench-ort-torch-"));
const onnxPath = join(dir, "model.onnx");
const helper = spawnPython(
  [
    join(ROOT, "tools/bench/generator_bench_helper.py"),
    "serve",
    "--preset",
    opts.preset,
    "--size",
    String(SIZE),
  ].concat(["--out", onnxPath]),
  { stdio: ["pipe", "pipe", "inherit"] },
);
const lines = createInterface({ input: helper.stdout })[Symbol.asyncIterator]();
async function reply() {
  const { value, done } = await lines.next();
  if (done) throw new Error("the PyTorch helper exited early");
  return JSON.parse(value);
}

try {
  const ready = await reply();
  const generator = await loadGenerator(ready.onnx);
  const image = { data: new Float32Array(3 * SIZE * SIZE), channels: 3, height: SIZE, width: SIZE };
  const mask = { data: new Float32Array(SIZE * SIZE), height: SIZE, width: SIZE };
  for (let i = 0; i < image.data.length; i++) image.data[i] = (i % 251) / 251;
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = (i % 127) / 127;
  for (let i = 0; i < 5; i++) await generator.step(image, mask); // warm-up

  const load = [loadavg()[0]];
  const torchMs = [];
  const ortMs = [];
  for (let r = 0; r < ROUNDS; r++) {
    helper.stdin.write(`time ${FRAMES}\n`);
    torchMs.push((await reply()).ms_per_frame);
    const start = performance.now();
    for (let i = 0; i < FRAMES; i++) await generator.step(image, mask);
    ortMs.push((performance.now() - start) / FRAMES);
  }
  load.push(loadavg()[0]);
  helper.stdin.write("quit\n");
  await generator.dispose();
  const ratio = median(ortMs) / median(torchMs);
  console.log(
    JSON.stringify({
      metric: "ort_vs_torch_latency_ratio",
      value: Number(ratio.toFixed(3)),
      goal: "<= 0.8",
      unit: "ratio",
      details: {
        direction: "lower is better",
        preset: opts.preset,
        parameters: ready.parameters,
        size: `1x3x${SIZE}x${SIZE}`,
        ort_ms_per_frame: Number(median(ortMs).toFixed(2)),
        torch_ms_per_frame: Number(median(torchMs).toFixed(2)),
        ort_rounds_ms: ortMs.map((v) => Number(v.toFixed(2))),
        torch_rounds_ms: torchMs.map((v) => Number(v.toFixed(2))),
        ort_intra_op_threads: generator.sessionOptions.intraOpNumThreads,
        torch_threads: ready.threads,
        torch_version: ready.torch,
        cores: availableParallelism(),
        load_average_1m: load.map((v) => Number(v.toFixed(2))),
      },
    }),
  );
} finally {
  helper.kill();
  rmSync(dir, { recursive: true, force: true });
}
