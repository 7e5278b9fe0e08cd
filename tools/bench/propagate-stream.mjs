#!/usr/bin/env node
/**
 * Benchmark `propagate_stream_fps_256` (issue L, point 2): propagateStream with the recommended
 * model (models/real-propagation.pt under the settings recommended for the model's working size,
 * shipped-model.mjs recommendedSettings: wide-half with the correction at half size at 256 px, as
 * it is at 128; `export --split`, the motion pipeline) on a live 30 frames/s 256x256 source for 10,000 frames:
 * the frames/s achieved, whether it keeps up, and the process's memory.
 *
 * The source is a camera stand-in: frame i is "captured" at t0 + i / 30 s and handed out no
 * earlier (pull-based: a slow consumer makes frames wait, it never piles them up). Its pictures
 * are the vendored laryngoscopy clip (data/real/vocalfolds-seq8-128) resized to 256 px, played
 * in a loop (decoded once, untimed). Per frame, timed: 8-bit -> float, the stream step, the soft
 * mask -> binary 8-bit mask. Latency of frame i = when its mask is out - when it was captured.
 *
 * Keeps up: the latency at the end is under one source period budget (LAG_LIMIT_S), i.e. it did
 * not grow over the run. Memory: RSS sampled every 500 frames, and the peak RSS
 * (process.resourceUsage().maxRSS).
 *
 * Last stdout line: {"metric":"propagate_stream_fps_256","value":...,"goal":">= 30",...}.
 * Options: --frames N (default 10000), --fps F (source rate, default 30), --model single|split
 * (default split), --threads N (onnxruntime intra-op threads; default: the library's, all
 * cores), --downsample N (propagateStream's `downsample`: the model on frames N times smaller
 * per side, masks at 256 px; metric `propagate_stream_fps_256_half_size` for 2; its Dice cost is
 * in docs/real-data.md, "Working at half size"), --quick (1000 frames).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { benchOptions, importInference } from "./lib/setup.mjs";
import { clipFrames, exportShippedModel, recommendedSettings } from "./lib/shipped-model.mjs";

const opts = benchOptions({
  frames: "10000",
  fps: "30",
  model: "split",
  threads: undefined,
  downsample: "1",
});
const FRAMES = opts.quick ? 1000 : Number(opts.frames);
const SOURCE_FPS = Number(opts.fps);
const SIZE = 256;
const LOOP = 90; // distinct source pictures, played in a loop
const LAG_LIMIT_S = 1;
const DOWNSAMPLE = Number(opts.downsample);
const METRIC = { 1: "propagate_stream_fps_256", 2: "propagate_stream_fps_256_half_size" }[DOWNSAMPLE];
if (!METRIC) {
  console.error(`--downsample: "${opts.downsample}". Should be one of: 1, 2`);
  process.exit(2);
}
if (!["single", "split"].includes(opts.model)) {
  console.error(`--model: "${opts.model}". Should be one of: single, split`);
  process.exit(2);
}

const { loadGenerator, propagateStream, pixelsToImage, maskToPixels, decode } = await importInference();

const dir = mkdtempSync(join(tmpdir(), "stillmotion-bench-stream-"));
try {
  const session = opts.threads ? { intraOpNumThreads: Number(opts.threads) } : {};
  const flag = opts.model === "split" ? "--split" : "--mask-only";
  const settings = recommendedSettings(SIZE / DOWNSAMPLE);
  const exported = await exportShippedModel(join(dir, "model.onnx"), flag, settings);
  const generator = await loadGenerator(exported.onnx, { session });
  const pictures = await clipFrames(decode, LOOP, SIZE);
  const initial = { data: new Float32Array(SIZE * SIZE), height: SIZE, width: SIZE };
  for (let y = 85; y < 170; y++) for (let x = 85; x < 170; x++) initial.data[y * SIZE + x] = 1;

  const captured = new Float64Array(FRAMES); // ms, performance.now()
  let t0 = 0;
  /** The live source: frame i no earlier than t0 + i / fps; 8-bit -> float on hand-out (timed). */
  async function* camera() {
    t0 = performance.now();
    for (let i = 0; i < FRAMES; i++) {
      const due = t0 + (1000 * i) / SOURCE_FPS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      captured[i] = due;
      yield pixelsToImage(pictures[i % LOOP]);
    }
  }

  const rssSamples = [];
  let maxLatency = 0;
  let latency = 0;
  let busyMs = 0; // time spent between receiving a frame and its mask (not waiting for the source)
  let last = 0;
  const cpu0 = process.cpuUsage();
  let pulled = performance.now();
  for await (const { index, mask } of propagateStream(generator, camera(), initial, {
    downsample: DOWNSAMPLE,
  })) {
    const bits = maskToPixels(mask, 0.5);
    if (bits.data.length !== SIZE * SIZE) throw new Error("bad mask");
    const now = performance.now();
    busyMs += now - Math.max(pulled, captured[index]);
    latency = (now - captured[index]) / 1000;
    maxLatency = Math.max(maxLatency, latency);
    if (index % 500 === 0)
      rssSamples.push({ frame: index, rss_mib: Number((process.memoryUsage().rss / 2 ** 20).toFixed(1)) });
    last = now;
    pulled = performance.now();
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = (last - t0) / 1000;
  const achieved = FRAMES / seconds;
  const processing = (1000 * FRAMES) / busyMs;
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  await generator.dispose();
  const after1000 = rssSamples.find((s) => s.frame >= 1000) ?? rssSamples[rssSamples.length - 1];
  console.log(
    JSON.stringify({
      metric: METRIC,
      value: Number(achieved.toFixed(2)),
      goal: `>= ${SOURCE_FPS}`,
      unit: "frames/s",
      details: {
        direction: "higher is better",
        model: `models/real-propagation.pt (set-matcher ${JSON.stringify(settings ?? "none")}, ${opts.model === "split" ? "export --split" : "export --mask-only"})`,
        pipeline: generator.canPipeline && generator.sessionOptions.intraOpNumThreads >= 2,
        frames: FRAMES,
        downsample: DOWNSAMPLE,
        intra_op_threads: generator.sessionOptions.intraOpNumThreads,
        source_fps: SOURCE_FPS,
        keeps_up: latency < LAG_LIMIT_S,
        processing_fps: Number(processing.toFixed(2)),
        latency_end_s: Number(latency.toFixed(3)),
        latency_max_s: Number(maxLatency.toFixed(3)),
        seconds: Number(seconds.toFixed(1)),
        cpu_ms_per_frame: Number(((cpu.user + cpu.system) / 1000 / FRAMES).toFixed(2)),
        peak_rss_mib: Number(peakRssMiB.toFixed(1)),
        rss_growth_after_frame_1000_mib: Number(
          (rssSamples[rssSamples.length - 1].rss_mib - after1000.rss_mib).toFixed(1),
        ),
        rss_samples: rssSamples,
        load_average_1m: Number(loadavg()[0].toFixed(2)),
        cores: availableParallelism(),
        cpu: cpus()[0]?.model,
        size: `${SIZE}x${SIZE}x3`,
        timed:
          "uint8 frame -> float, propagateStream step, soft -> binary uint8 mask; source paced at the source rate",
      },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
