#!/usr/bin/env node
/**
 * bridge_throughput_ratio = steps/s of a run driven by the orchestrator (gRPC + ZeroMQ
 * telemetry, supervisor following every event) / steps/s of the same config run directly with
 * `python -m stillmotion_trainer train`. Both measured in this one process run, alternating
 * direct/orchestrated four times in ABBA order, from the durable metrics.jsonl timestamps (median time
 * between steps after warm-up), so process start-up is not counted on either side.
 * Goal >= 0.97.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const trainerDir = join(root, "python-trainer");
const PY = process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";
const { superviseRun } = await import(join(root, "packages/orchestrator/dist/runs/supervisor.js"));

const quick = process.argv.includes("--quick");
const STEPS = quick ? 40 : 120;
const WARMUP = 10;
const work = mkdtempSync(join(tmpdir(), "stillmotion-bench-bridge-"));
const dataset = join(work, "dataset");
execFileSync(
  PY,
  ["-m", "stillmotion_trainer", "synth", "--kind", "endoscopy", "--out", dataset, "--videos", "4"].concat([
    "--frames",
    "12",
    "--size",
    "64",
    "--seed",
    "0",
  ]),
  { cwd: trainerDir, stdio: "ignore" },
);

const config = {
  data: { dataset, size: 64, clip_len: 4, batch_size: 4, val_fraction: 0.25 },
  model: { preset: "realtime" },
  train: { seed: 0 },
  val: { every_n_steps: 0 },
  stop: { max_steps: STEPS },
  checkpoint: { every_n_steps: 1000000, keep_last: 1 },
  log: { every_n_steps: 1, preview_every_n_steps: 50 },
};

/** Steps/s from the durable log: 1 / median time between consecutive steps after warm-up
 * (the median ignores one-off hiccups of a shared machine: a checkpoint, another process). */
function stepsPerSecond(runDir) {
  const rows = readFileSync(join(runDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === "train" && r.step > WARMUP);
  const gaps = rows
    .slice(1)
    .map((r, i) => r.time - rows[i].time)
    .sort((a, b) => a - b);
  return 1 / gaps[Math.floor(gaps.length / 2)];
}

function direct(tag) {
  const runDir = join(work, `direct-${tag}`);
  const cfgFile = join(work, `direct-${tag}.json`);
  writeFileSync(
    cfgFile,
    JSON.stringify({ ...config, checkpoint: { ...config.checkpoint, run_dir: runDir } }),
  );
  const r = spawnSync(PY, ["-m", "stillmotion_trainer", "train", "--config", cfgFile], {
    cwd: trainerDir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.status !== 0) throw new Error(`direct run failed: ${r.stderr}`);
  return stepsPerSecond(runDir);
}

async function orchestrated(tag) {
  const runDir = join(work, `orchestrated-${tag}`);
  let events = 0;
  await superviseRun({ config, runDir, onEvent: () => events++ });
  return { sps: stepsPerSecond(runDir), events };
}

const directRates = [];
const orchestratedRates = [];
let events = 0;
// ABBA order (direct first, then orchestrated first, ...): the machine drifts over minutes, and
// always running one side second would charge the drift to it.
const rounds = quick ? ["a"] : ["a", "b", "c", "d"];
for (const [i, tag] of rounds.entries()) {
  const runOrchestrated = async () => {
    const o = await orchestrated(tag);
    orchestratedRates.push(o.sps);
    events += o.events;
  };
  if (i % 2 === 0) {
    directRates.push(direct(tag));
    await runOrchestrated();
  } else {
    await runOrchestrated();
    directRates.push(direct(tag));
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2;
};
const ratio = median(orchestratedRates) / median(directRates);
console.log(
  JSON.stringify({
    metric: "bridge_throughput_ratio",
    value: ratio,
    goal: ">= 0.97",
    unit: "ratio",
    details: {
      steps: STEPS,
      warmup: WARMUP,
      preset: "realtime",
      size: 64,
      batch: 4,
      directRates,
      orchestratedRates,
      eventsFollowed: events,
    },
  }),
);
