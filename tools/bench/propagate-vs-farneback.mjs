#!/usr/bin/env node
/**
 * Benchmark `propagate_vs_farneback_ratio` (issue L): the recommended propagation model (the
 * shipped models/real-propagation.pt, warp head + 16-channel correction) exported by the project's
 * export command and run through the real propagateMasks chain in onnxruntime-node, against
 * OpenCV Farneback (the trainer's baseline, evaluation/baselines.flow_masks) on the same frames,
 * side by side in one run, rounds interleaved so both see the same machine load.
 *
 * Frames: the vendored laryngoscopy clip (data/real/vocalfolds-seq8-128), decoded and resized to
 * 256x256 (and 512x512) before timing. Timed per round, as propagate-fps.mjs: 8-bit frames ->
 * float tensors, propagateMasks from frame 0 over the clip, soft masks -> binary 8-bit masks.
 * Farneback: float frames -> grey, flow, chained maps, the key mask sampled per frame.
 *
 * The recommended model at 256 and 512 px: the shipped weights with the "wide-half-grey" matcher
 * and the correction at half size (shipped-model.mjs, recommendedSettings), exported --split, run
 * with the motion pipeline (the match on a worker thread, the masks carried here, each frame's
 * features where the lighter half is: packages/inference/src/motion-pipeline.ts).
 *
 * Variants at 256 (each a "before/after" of one change, same run): `single` (the mask-only single
 * graph of the shipped wide-grey weights, the deployment before), `split_grey_step` (their split
 * export, one thread of control: stop 23's figure), `split_grey` (the same with the motion
 * pipeline), `split_half` (wide-half with the full-size correction, pipelined: stop 24's
 * recommended), `split_wide_half` (wide-half, correction at half size, pipelined: stops 25-27's
 * recommended), `split_stop28` (models/real-propagation-256.onnx as committed at stop 28, read
 * with git show: the recommended export before stop 29's pyramid and one-pass cost window;
 * skipped without the history), `split_step` (wide-half-grey, correction at half size, no pipeline), `split`
 * (the same pipelined: the recommended), `split_features_worker` (the
 * same with every frame's features in the worker, as at stop 24), `split_fb1` (one frame per
 * features run instead of 4); chains in one
 * call: `chains_b1` / `chains_b4` (3 key frames, 4 chains, maxBatch 1 / 4, split model; frames/s
 * counts chain steps); onnxruntime session levers on the
 * split model (`threads_1` also turns the pipeline off: it needs 2 threads): `opt_basic`, `opt_extended` (graph optimisation level; default "all"),
 * `threads_1` (default: all cores), `parallel` (executionMode parallel, 2 inter-op threads),
 * `no_arena` (enableCpuMemArena false), `spinning` (allowSpinning true); `split_key` (each step
 * from the key frame, reference "key"), `split_ds2` / `split_key_ds2` (the model at half size,
 * propagateMasks' downsample 2; the shipped wide-grey, the matcher for 128 px). At 512: single,
 * split_grey, split_half, split_wide_half, split_stop28, split, split_ds2, split_key_ds2, Farneback.
 *
 * Last stdout line: {"metrics": [propagate_vs_farneback_ratio, propagate_fps_256_recommended,
 * propagate_vs_farneback_ratio_half_size, propagate_fps_512_recommended]} (tools/bench/run.mjs
 * reads it).
 * Options: --frames N (default 60), --rounds R (default 3), --no-levers, --quick (30 frames, no
 * levers).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { benchOptions, importInference, median, ROOT, spawnPython } from "./lib/setup.mjs";
import { clipFrames, exportShippedModel, recommendedSettings } from "./lib/shipped-model.mjs";

const opts = benchOptions({ frames: "60", rounds: "3" }, ["no-levers"]);
const N = opts.quick ? 30 : Number(opts.frames);
const ROUNDS = Number(opts.rounds);
const LEVERS = !opts.quick && !opts["no-levers"];
const THREADS = availableParallelism();

const { loadGenerator, propagateMasks, pixelsToImage, maskToPixels, decode } = await importInference();

/** The commit whose models/real-propagation-256.onnx is stop 28's recommended export. */
const STOP28_REVISION = "93c164b";

/** `path` of the repository at git revision `rev`, written to `out`; undefined where git or
 * that history is missing (a shallow clone, an archive). */
function shippedAt(rev, out, path = "models/real-propagation-256.onnx") {
  const shown = spawnSync("git", ["show", `${rev}:${path}`], { cwd: ROOT, maxBuffer: 1 << 26 });
  if (shown.status !== 0 || shown.stdout.length === 0) {
    console.error(`bench: ${path} at ${rev} unavailable, variant split_stop28 skipped`);
    return undefined;
  }
  writeFileSync(out, shown.stdout);
  return out;
}

/** The Farneback helper process: time(file, t, h, w) -> frames/s. */
async function farneback() {
  const child = spawnPython([
    join(ROOT, "tools/bench/farneback_bench_helper.py"),
    "serve",
    "--threads",
    String(THREADS),
  ]);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`farneback helper exited: ${stderr}`);
    const msg = JSON.parse(value);
    if (msg.error) throw new Error(`farneback helper: ${msg.error}`);
    return msg;
  };
  const ready = await next();
  return {
    ready,
    async time(file, t, h, w) {
      child.stdin.write(`time ${file} ${t} ${h} ${w}\n`);
      return (await next()).fps;
    },
    quit() {
      child.stdin.end("quit\n");
    },
  };
}

function keyMask(size) {
  const mask = { data: new Float32Array(size * size), height: size, width: size };
  const a = Math.floor(size / 3);
  const b = Math.floor((2 * size) / 3);
  for (let y = a; y < b; y++) for (let x = a; x < b; x++) mask.data[y * size + x] = 1;
  return mask;
}

/** CPU ms per frame of the last chainFps call (this process, all threads). */
let lastCpuMs = 0;

/**
 * One timed run: uint8 -> float, propagateMasks from frame 0 (keys = 3: also the middle and the
 * last frame, 4 chains), soft -> binary masks. Frames/s: frames out per second with one key frame
 * (as Farneback's), chain steps per second with 3.
 */
async function chainFps(generator, raw, options = {}, keys = 1) {
  const size = raw[0].height;
  const at = keys === 1 ? [0] : [0, Math.floor(raw.length / 2), raw.length - 1];
  const cpu = process.cpuUsage();
  const start = performance.now();
  const images = raw.map(pixelsToImage);
  const keyframes = at.map((index) => ({ index, mask: keyMask(size) }));
  const result = await propagateMasks(generator, images, keyframes, options);
  const masks = result.masks.map((m) => maskToPixels(m, 0.5));
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  lastCpuMs = (used.user + used.system) / 1000 / (keys === 1 ? raw.length : result.steps);
  if (masks.length !== raw.length) throw new Error("lost frames");
  return (keys === 1 ? raw.length : result.steps) / seconds;
}

/** Append value to table[key] (a list per variant). */
function record(table, key, value) {
  table[key] = [...(table[key] ?? []), value];
}

const round2 = (x) => Number(x.toFixed(2));

const dir = mkdtempSync(join(tmpdir(), "stillmotion-bench-farneback-"));
let helper;
try {
  // the shipped weights as they are (wide-grey), with wide-half (full-size / half-size
  // correction), and with the settings recommended from 256 px (wide-half-grey, correction at
  // half size); both sizes timed are >= 256
  const [singleReport, greyReport, halfReport, wideHalfReport, splitReport] = await Promise.all([
    exportShippedModel(join(dir, "masks.onnx"), "--mask-only"),
    exportShippedModel(join(dir, "split-grey.onnx"), "--split"),
    exportShippedModel(join(dir, "split-half.onnx"), "--split", { matcher: "wide-half" }),
    exportShippedModel(join(dir, "split-wide-half.onnx"), "--split", {
      matcher: "wide-half",
      refineScale: 2,
    }),
    exportShippedModel(join(dir, "split.onnx"), "--split", recommendedSettings(256)),
  ]);
  const stop28 = shippedAt(STOP28_REVISION, join(dir, "stop28.onnx"));
  helper = await farneback();
  const grey = greyReport.onnx;
  /** name -> { model, session options, propagate options } */
  const variants = {
    single: { file: singleReport.onnx },
    // the split model without and with the motion pipeline, per matcher
    split_grey_step: { file: grey, propagate: { pipeline: false } },
    split_grey: { file: grey },
    split_half: { file: halfReport.onnx },
    split_wide_half: { file: wideHalfReport.onnx },
    // the recommended file as shipped at stop 28 (before the matcher's pyramid and the one-pass
    // cost window): this stop's before/after in one run; absent without the git history
    ...(stop28 ? { split_stop28: { file: stop28 } } : {}),
    split_step: { file: splitReport.onnx, propagate: { pipeline: false } },
    split: { file: splitReport.onnx },
    split_features_worker: { file: splitReport.onnx, featuresOn: "worker" },
    split_fb1: { file: splitReport.onnx, propagate: { featureBatch: 1 } },
    chains_b1: { file: splitReport.onnx, propagate: { maxBatch: 1 }, keys: 3 },
    chains_b4: { file: splitReport.onnx, propagate: { maxBatch: 4 }, keys: 3 },
    // each step from the key frame (the setting real video is scored with, docs/real-data.md),
    // and the model at half size (downsample 2: box-averaged frames, masks bilinear back up; at
    // 128 px the recommended matcher is the shipped one)
    split_key: { file: splitReport.onnx, propagate: { reference: "key" } },
    split_ds2: { file: grey, propagate: { downsample: 2 } },
    split_key_ds2: { file: grey, propagate: { reference: "key", downsample: 2 } },
  };
  if (LEVERS) {
    Object.assign(variants, {
      opt_basic: { file: splitReport.onnx, session: { graphOptimizationLevel: "basic" } },
      opt_extended: { file: splitReport.onnx, session: { graphOptimizationLevel: "extended" } },
      threads_1: { file: splitReport.onnx, session: { intraOpNumThreads: 1 } },
      parallel: { file: splitReport.onnx, session: { executionMode: "parallel", interOpNumThreads: 2 } },
      no_arena: { file: splitReport.onnx, session: { enableCpuMemArena: false } },
      spinning: { file: splitReport.onnx, session: { allowSpinning: true } },
    });
  }
  const generators = {};
  for (const [name, v] of Object.entries(variants)) {
    generators[name] = await loadGenerator(v.file, { session: v.session });
    if (v.featuresOn !== undefined) generators[name].motionPipeline().featuresOn = v.featuresOn;
  }
  const sizes = {
    256: Object.keys(variants),
    512: ["single", "split_grey", "split_half", "split_wide_half", "split", "split_ds2", "split_key_ds2"],
  };
  if (stop28) sizes[512].splice(4, 0, "split_stop28");
  const fps = {};
  const cpuMs = {};
  const ratios = { 256: [], 512: [] };
  const ratiosHalf = { 256: [], 512: [] }; // split_key_ds2 against Farneback at full size
  const load = [loadavg()[0]];
  for (const [size, names] of Object.entries(sizes)) {
    const raw = await clipFrames(decode, N, Number(size)); // decoded, not timed
    const file = join(dir, `frames-${size}.u8`);
    writeFileSync(
      file,
      Buffer.concat(raw.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length))),
    );
    // warm-up: onnxruntime plans memory on the first runs at a size; OpenCV loads its kernels
    for (const name of names) {
      await chainFps(generators[name], raw.slice(0, 6), variants[name].propagate, variants[name].keys);
    }
    await helper.time(file, N, Number(size), Number(size));
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of names) {
        const key = `${name}_${size}`;
        record(
          fps,
          key,
          await chainFps(generators[name], raw, variants[name].propagate, variants[name].keys),
        );
        record(cpuMs, key, lastCpuMs);
      }
      const cv = await helper.time(file, N, Number(size), Number(size));
      record(fps, `farneback_${size}`, cv);
      ratios[size].push(fps[`split_${size}`][r] / cv);
      ratiosHalf[size].push(fps[`split_key_ds2_${size}`][r] / cv);
    }
  }
  load.push(loadavg()[0]);
  for (const g of Object.values(generators)) await g.dispose();

  const medians = Object.fromEntries(Object.entries(fps).map(([k, v]) => [k, round2(median(v))]));
  const common = {
    direction: "higher is better",
    model:
      "models/real-propagation.pt: `split` set-matcher --matcher wide-half-grey --refine-scale 2, " +
      "export --split, motion pipeline; `split_wide_half` the same with wide-half (stops 25-27); " +
      "`split_half` wide-half alone; `split_grey*` its own wide-grey matcher; `single` the " +
      "mask-only single graph",
    frames_per_round: N,
    rounds: ROUNDS,
    median_fps: medians,
    rounds_fps: Object.fromEntries(Object.entries(fps).map(([k, v]) => [k, v.map(round2)])),
    // CPU time of this process per frame, all threads (steadier than wall time on a shared machine)
    median_cpu_ms_per_frame: Object.fromEntries(
      Object.entries(cpuMs).map(([k, v]) => [k, round2(median(v))]),
    ),
    intra_op_threads: THREADS,
    opencv: helper.ready.opencv,
    farneback: helper.ready.farneback,
    load_average_1m: load.map(round2),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    timed:
      "model: uint8 frames -> float tensors, propagateMasks (1 key frame), soft -> binary uint8 masks; " +
      "Farneback: float frames -> grey, flow, chained maps, key mask sampled per frame; decoding excluded",
  };
  console.log(
    JSON.stringify({
      metrics: [
        {
          metric: "propagate_vs_farneback_ratio",
          value: round2(median(ratios[256])),
          goal: ">= 1.0",
          unit: "x",
          details: {
            ...common,
            size: "256x256x3",
            rounds_ratio: ratios[256].map((x) => Number(x.toFixed(3))),
          },
        },
        {
          metric: "propagate_fps_256_recommended",
          value: medians.split_256,
          goal: ">= 60",
          unit: "frames/s",
          details: {
            size: "256x256x3",
            farneback_fps: medians.farneback_256,
            single_graph_fps: medians.single_256,
            shipped_matcher_fps: medians.split_grey_256,
            full_size_correction_fps: medians.split_half_256,
            wide_half_fps: medians.split_wide_half_256,
            stop28_file_fps: medians.split_stop28_256,
            without_pipeline_fps: medians.split_step_256,
            features_in_worker_fps: medians.split_features_worker_256,
          },
        },
        {
          metric: "propagate_vs_farneback_ratio_half_size",
          value: round2(median(ratiosHalf[256])),
          goal: ">= 1.0",
          unit: "x",
          details: {
            size: "256x256x3 frames, the model at 128x128 (downsample 2, reference key)",
            fps: medians.split_key_ds2_256,
            farneback_fps: medians.farneback_256,
            rounds_ratio: ratiosHalf[256].map((x) => Number(x.toFixed(3))),
            at_512: { fps: medians.split_key_ds2_512, ratio: round2(median(ratiosHalf[512])) },
          },
        },
        {
          metric: "propagate_fps_512_recommended",
          value: medians.split_512,
          goal: ">= 30",
          unit: "frames/s",
          details: {
            size: "512x512x3",
            farneback_fps: medians.farneback_512,
            single_graph_fps: medians.single_512,
            shipped_matcher_fps: medians.split_grey_512,
            full_size_correction_fps: medians.split_half_512,
            wide_half_fps: medians.split_wide_half_512,
            stop28_file_fps: medians.split_stop28_512,
            ratio_vs_farneback: round2(median(ratios[512])),
          },
        },
      ],
    }),
  );
} finally {
  helper?.quit();
  rmSync(dir, { recursive: true, force: true });
}
