#!/usr/bin/env node
/**
 * Where a propagation model's time goes: onnxruntime's own per-node profile of an exported
 * generator (any StillMotion ONNX file: single graph, mask-only, or the split's step/features
 * graphs), summed into the parts of the warp head (models/warp.py) and the correction network.
 *
 * Usage: node tools/bench/profile-propagation.mjs --model FILE [--size 256] [--threads 2]
 *        [--runs 30] [--batch 1] [--nodes 15]
 * Prints a markdown table (ms per run and share, by part and level) and the slowest nodes; the
 * last stdout line is one JSON object with the same numbers.
 *
 * Parts are read from the node names torch gives ONNX nodes (module scopes such as
 * `/graph/displacement/embeddings.2/...`, `/graph/refine_net/...`), the operator type and the
 * output's spatial size (the level: size/8, size/2, size). Warm-up runs are excluded: only node
 * events inside the last `--runs` `model_run` spans are counted.
 *
 * Caveat (stop 23, docs/models.md "Cheaper matchers"): with profiling on, the first
 * full-resolution GridSample of a run is charged 12-17 ms that it does not cost without the
 * profiler (the same node run a second time in the graph: 0.7-1.5 ms). Confirm a part's cost by
 * timing graphs with and without it, profiling off, before acting on it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchOptions, importInference } from "./lib/setup.mjs";

const opts = benchOptions({
  model: undefined,
  size: "256",
  threads: "2",
  runs: "30",
  batch: "1",
  nodes: "15",
});
if (!opts.model) {
  console.error("usage: profile-propagation.mjs --model FILE [--size 256] [--threads 2] [--runs 30]");
  process.exit(2);
}
const SIZE = Number(opts.size);
const RUNS = opts.quick ? 10 : Number(opts.runs);
const BATCH = Number(opts.batch);
const WARMUP = 3;

const lib = await importInference();

/** The level a tensor of spatial width `w` belongs to (LEVELS strides 8, 2, 1 of models/warp.py). */
function level(w) {
  if (w === undefined) return "";
  if (Math.abs(w - SIZE / 8) <= 1) return " 1/8";
  if (Math.abs(w - SIZE / 2) <= 2) return " 1/2";
  if (Math.abs(w - SIZE) <= 2) return " 1/1";
  return "";
}

const COST_OPS = new Set(["Pad", "Slice", "Pow", "ReduceMean", "AveragePool"]);
const ARGMIN_OPS = new Set([
  "Exp",
  "ReduceMax",
  "GreaterOrEqual",
  "Greater",
  "Cast",
  "Conv",
  "ReduceSum",
  "Div",
]);

/** The part of the model a profiled node belongs to. */
function part(name, op, shape) {
  const w = shape?.[3];
  const channels = shape?.[1];
  if (op === "ReorderInput" || op === "ReorderOutput") return "layout reorders (NCHWc)";
  if (name.includes("/refine_net/")) return "refine encoder-decoder";
  const emb = /\/embeddings\.(\d)/.exec(name);
  if (emb) return `embeddings${level(w ?? SIZE)}`;
  if (name.includes("/displacement/")) {
    if (op === "GridSample") return `warp features (grid_sample)${level(w)}`;
    if (op === "Resize") return "flow upsampling";
    if (COST_OPS.has(op) || (op === "Sub" && channels !== undefined && channels <= 8) || op === "Concat")
      return `cost volume${level(w)}`;
    if (ARGMIN_OPS.has(op) || ((op === "Sub" || op === "Mul" || op === "Add") && channels > 8))
      return `soft arg-min${level(w)}`;
    return "flow/grid arithmetic";
  }
  if (op === "GridSample") return "warp mask (grid_sample)";
  return `other (${op})`;
}

const dir = mkdtempSync(join(tmpdir(), "stillmotion-profile-"));
try {
  const session = await lib.createOnnxSession(readFileSync(opts.model), opts.model, {
    intraOpNumThreads: Number(opts.threads),
    enableProfiling: true,
    profileFilePrefix: join(dir, "profile"),
  });
  const feeds = {};
  for (const input of session.inputs) {
    const dims = input.shape.map((d, i) => (typeof d === "number" ? d : i === 0 ? BATCH : SIZE));
    // feature inputs of a step graph are at their level's size: read it from their name
    const stride = /_s(\d+)$/.exec(input.name);
    if (stride) {
      dims[2] = Math.floor(SIZE / Number(stride[1]));
      dims[3] = Math.floor(SIZE / Number(stride[1]));
    }
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.random();
    feeds[input.name] = { data, dims };
  }
  for (let r = 0; r < WARMUP; r++) await session.run(feeds);
  const started = performance.now();
  for (let r = 0; r < RUNS; r++) await session.run(feeds);
  const wallMs = (performance.now() - started) / RUNS;
  session.endProfiling();
  await session.release();
  const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), "utf8"));

  // the last RUNS model_run spans; node events are counted when they start inside one
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run").slice(-RUNS);
  const inside = (ts) => runs.some((r) => ts >= r.ts && ts <= r.ts + r.dur);
  const byPart = new Map();
  const byNode = new Map();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || !inside(e.ts)) continue;
    const node = e.name.slice(0, -"_kernel_time".length);
    const shape = Object.values(e.args.output_type_shape?.[0] ?? {})[0];
    const key = part(node, e.args.op_name, shape);
    byPart.set(key, (byPart.get(key) ?? 0) + e.dur / 1000 / RUNS);
    const nodeKey = `${node} (${e.args.op_name} -> [${shape?.join(", ") ?? ""}])`;
    byNode.set(nodeKey, (byNode.get(nodeKey) ?? 0) + e.dur / 1000 / RUNS);
  }
  const total = [...byPart.values()].reduce((a, b) => a + b, 0);
  const rows = [...byPart].sort((a, b) => b[1] - a[1]);
  console.log(`${opts.model}: ${SIZE}x${SIZE}, batch ${BATCH}, ${opts.threads} threads, ${RUNS} runs`);
  console.log(`wall ${wallMs.toFixed(2)} ms/run, node time ${total.toFixed(2)} ms/run\n`);
  console.log("| part | ms/run | share |\n|---|---|---|");
  for (const [k, v] of rows) console.log(`| ${k} | ${v.toFixed(2)} | ${((100 * v) / total).toFixed(1)} % |`);
  console.log(`\nslowest ${opts.nodes} nodes:`);
  for (const [k, v] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.nodes)))
    console.log(`  ${v.toFixed(3)} ms  ${k}`);
  console.log(
    JSON.stringify({
      model: opts.model,
      size: SIZE,
      batch: BATCH,
      threads: Number(opts.threads),
      wall_ms_per_run: Number(wallMs.toFixed(3)),
      node_ms_per_run: Number(total.toFixed(3)),
      parts: Object.fromEntries(rows.map(([k, v]) => [k, Number(v.toFixed(3))])),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
