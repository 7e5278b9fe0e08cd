#!/usr/bin/env node
/**
 * Benchmark `ts_loss_vs_numpy_ratio`: the TypeScript `trainingLoss` (@stillmotion/losses, built
 * dist) against an equivalent vectorised numpy implementation (ts_loss_vs_numpy_helper.py) of
 * the same full training loss, side by side in one run.
 *
 * Batch: B = 8 videos, T = 1 transition, C = 3, 256×256, K = 1 key frame, every mask input
 * inferred and every key frame valid (so L_I, L_M1 and L_M2 are all computed: two SSIMs of
 * 8×3×256×256 each), default LossConfig (φ dice / l1, d ssim, γ1 0.8, γ2 0.5). Inputs are the
 * same float32 values on both sides (written once to a temp dir for the helper).
 *
 * Rounds interleave TS and numpy (`--rounds`, each `--repeats` calls per side), so both see the
 * same machine load; the ratio is median TS ms per call / median numpy ms per call.
 * Not timed: data generation, process start, the first (warm-up) call on each side.
 *
 * Last stdout line: {"metric":"ts_loss_vs_numpy_ratio","value":...,"goal":"<= 3","unit":"ratio",...}
 * Build first: cd packages/losses && npx tsc -p tsconfig.build.json
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { benchOptions, PYTHON, ROOT } from "./lib/setup.mjs";

// --quick (npm run bench -- --quick) is accepted and changes nothing: the defaults are short
const opts = benchOptions({ rounds: "3", repeats: "3", size: "256" });
const ROUNDS = Number(opts.rounds);
const REPEATS = Number(opts.repeats);
const [B, T, C, K] = [8, 1, 3, 1];
const H = Number(opts.size);
const W = H;
const DIST = join(ROOT, "packages/losses/dist/index.js");

if (!existsSync(DIST)) {
  console.error(`missing ${DIST}: build it with \`cd packages/losses && npx tsc -p tsconfig.build.json\``);
  process.exit(1);
}
const { trainingLoss, flags } = await import(pathToFileURL(DIST).href);

/** Deterministic uniform [0, 1) floats (mulberry32), so runs are comparable. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeBatch() {
  const rand = rng(1234);
  const uniform = (n) => Float32Array.from({ length: n }, rand);
  const image = B * T * C * H * W;
  const framesIn = uniform(image);
  // the next frame: the same scene plus noise, so SSIM lands on a realistic value
  const framesNext = framesIn.map((v) => Math.min(1, Math.max(0, v + 0.2 * (rand() - 0.5))));
  const keyImages = framesNext.map((v) => Math.min(1, Math.max(0, v + 0.2 * (rand() - 0.5))));
  const mask = B * T * H * W;
  const blobMask = () =>
    Float32Array.from({ length: mask }, (_, i) =>
      ((i % W) - W / 2) ** 2 + ((Math.floor(i / W) % H) - H / 2) ** 2 < (H / 4) ** 2 ? 1 : 0,
    );
  return {
    framesIn: { data: framesIn, shape: [B, T, C, H, W] },
    framesNext: { data: framesNext, shape: [B, T, C, H, W] },
    predImages: { data: uniform(image), shape: [B, T, C, H, W] },
    maskIn: { data: uniform(mask), shape: [B, T, 1, H, W] },
    predMasks: { data: uniform(mask), shape: [B, T, 1, H, W] },
    maskInInferred: flags(new Array(B * T).fill(true), [B, T]),
    keyImages: { data: keyImages, shape: [B, K, C, H, W] },
    keyMasks: { data: blobMask(), shape: [B, K, 1, H, W] },
    keyValid: flags(new Array(B * K).fill(true), [B, K]),
  };
}

function writeBatch(dir, batch) {
  const files = {
    frames_in: batch.framesIn,
    frames_next: batch.framesNext,
    pred_images: batch.predImages,
    mask_in: batch.maskIn,
    pred_masks: batch.predMasks,
    key_images: batch.keyImages,
    key_masks: batch.keyMasks,
  };
  for (const [name, t] of Object.entries(files)) {
    writeFileSync(join(dir, `${name}.f32`), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
}

/** The numpy side as a served child: one JSON line per command. */
function startHelper(dir) {
  const child = spawn(
    PYTHON,
    [
      join(ROOT, "tools/bench/ts_loss_vs_numpy_helper.py"),
      "--dir",
      dir,
      ...["b", "t", "c", "h", "w", "k"].flatMap((d, i) => [`--${d}`, String([B, T, C, H, W, K][i])]),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let buffer = "";
  const waiting = [];
  child.stdout.on("data", (chunk) => {
    buffer += chunk;
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      waiting.shift()?.resolve(JSON.parse(line));
      nl = buffer.indexOf("\n");
    }
  });
  child.on("exit", (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`numpy helper exited with code ${code}`));
  });
  const next = () =>
    new Promise((resolvePromise, reject) => waiting.push({ resolve: resolvePromise, reject }));
  return {
    ready: next(),
    time(n) {
      const reply = next();
      child.stdin.write(`time ${n}\n`);
      return reply;
    },
    quit() {
      child.stdin.end("quit\n");
    },
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const dir = mkdtempSync(join(tmpdir(), "stillmotion-loss-bench-"));
try {
  const batch = makeBatch();
  writeBatch(dir, batch);
  const helper = startHelper(dir);
  await helper.ready;

  let tsLoss = trainingLoss(batch); // warm-up (JIT)
  await helper.time(1); // warm-up (numpy allocations)
  const tsMs = [];
  const npMs = [];
  let npLoss;
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < REPEATS; i++) {
      const start = process.hrtime.bigint();
      tsLoss = trainingLoss(batch);
      tsMs.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const reply = await helper.time(REPEATS);
    npMs.push(...reply.ms_per_call);
    npLoss = reply.loss;
  }
  helper.quit();

  const ts = median(tsMs);
  const np = median(npMs);
  const details = {
    batch: { B, T, C, H, W, K, dtype: "float32 inputs (TS accumulates in float64)" },
    config: "default LossConfig: phi dice, image_phi l1, d ssim, gamma1 0.8, gamma2 0.5",
    rounds: ROUNDS,
    repeats: REPEATS,
    ts_ms_median: Number(ts.toFixed(2)),
    numpy_ms_median: Number(np.toFixed(2)),
    ts_ms: tsMs.map((v) => Number(v.toFixed(2))),
    numpy_ms: npMs.map((v) => Number(v.toFixed(2))),
    ts_total: tsLoss.total,
    numpy_total: npLoss.total,
    abs_diff_total: Math.abs(tsLoss.total - npLoss.total),
    node: process.version,
  };
  console.log(`TS trainingLoss    median ${ts.toFixed(1)} ms  (${details.ts_ms.join(", ")})`);
  console.log(`numpy training loss median ${np.toFixed(1)} ms  (${details.numpy_ms.join(", ")})`);
  console.log(`loss total: TS ${tsLoss.total.toFixed(6)}  numpy ${npLoss.total.toFixed(6)}`);
  console.log(
    JSON.stringify({
      metric: "ts_loss_vs_numpy_ratio",
      value: Number((ts / np).toFixed(3)),
      goal: "<= 3",
      unit: "ratio",
      details,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
