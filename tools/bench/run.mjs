#!/usr/bin/env node
/**
 * `npm run bench`: runs every benchmark script of this folder one after another (never in
 * parallel: each compares two things side by side and needs the machine to itself), collects
 * the JSON object each prints as its last stdout line, and writes bench/results/latest.json
 * plus a readable latest.md, with machine information. A run of some benchmarks (`--only`) or a
 * `--quick` one writes partial.json / partial.md instead: the full table of the last complete
 * run is never replaced by a part of one.
 *
 * Usage: node tools/bench/run.mjs [--only name,name] [--quick]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const PY = process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";

/** Each benchmark: the script, how to run it, and the metrics it reports. */
const BENCHES = [
  { name: "trainer-overhead", cmd: [PY, join(here, "trainer-overhead.py")], issue: "B" },
  { name: "loader-headroom", cmd: [PY, join(here, "loader-headroom.py")], issue: "B" },
  // the real recipe's training step at 128 px: clips/s, vs the bare model, vs the trainer before issue L
  { name: "train-throughput", cmd: [PY, join(here, "train-throughput.py")], issue: "L" },
  // key-frame adaptation and propagation at 128 and 256 px, tcmalloc vs glibc (issue L)
  { name: "allocator", cmd: [PY, join(here, "allocator.py")], issue: "L" },
  // 2 DDP processes against 1 on this machine's cores, the recommended recipe (issue L)
  { name: "ddp-scaling", cmd: [PY, join(here, "ddp-scaling.py")], issue: "L" },
  { name: "ts-loss-vs-numpy", cmd: [process.execPath, join(here, "ts-loss-vs-numpy.mjs")], issue: "C" },
  { name: "bridge-throughput", cmd: [process.execPath, join(here, "bridge-throughput.mjs")], issue: "E" },
  { name: "ort-vs-torch", cmd: [process.execPath, join(here, "ort-vs-torch.mjs")], issue: "F" },
  { name: "propagate-fps", cmd: [process.execPath, join(here, "propagate-fps.mjs")], issue: "F" },
  {
    // the recommended recipe's generator (next-frame warp + correction): what users deploy
    name: "propagate-fps-recipe",
    cmd: [
      process.execPath,
      join(here, "propagate-fps.mjs"),
      "--recipe",
      "configs/recipes/next-frame-warp-cycle-reseed.yaml",
    ],
    issue: "I",
  },
  {
    // the same exported mask-only (no image branch), as propagation deploys it
    name: "propagate-fps-recipe-mask-only",
    cmd: [
      process.execPath,
      join(here, "propagate-fps.mjs"),
      "--recipe",
      "configs/recipes/next-frame-warp-cycle-reseed.yaml",
      "--mask-only",
    ],
    issue: "I",
  },
  // the shipped propagation model (export --split) vs OpenCV Farneback on the same real frames,
  // 256 and 512 px, with each speed lever side by side (issue L)
  {
    name: "propagate-vs-farneback",
    cmd: [process.execPath, join(here, "propagate-vs-farneback.mjs")],
    issue: "L",
  },
  // propagateStream on a paced 30 frames/s source, 10,000 frames: keeps up? peak RSS (issue L)
  { name: "propagate-stream", cmd: [process.execPath, join(here, "propagate-stream.mjs")], issue: "L" },
  // the same at half size (downsample 2): the speed lever with its measured Dice cost (issue L)
  {
    name: "propagate-stream-half-size",
    cmd: [process.execPath, join(here, "propagate-stream.mjs"), "--downsample", "2"],
    issue: "L",
  },
  // still -> video under a camera: the scene's divergence-free projection against the
  // nonrigid step at the recommended 128 px, 256 and 512 in the details (issue K)
  {
    name: "generate-scene-motion",
    cmd: [process.execPath, join(here, "generate-scene-motion.mjs")],
    issue: "K",
  },
];

function machine() {
  const py = (code) => {
    try {
      return execFileSync(PY, ["-c", code], { encoding: "utf8" }).trim();
    } catch {
      return "unavailable";
    }
  };
  let commit = null;
  try {
    commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {}
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    python: py("import platform; print(platform.python_version())"),
    torch: py("import torch; print(torch.__version__, torch.get_num_threads())"),
    numpy: py("import numpy; print(numpy.__version__)"),
    gitCommit: commit,
    date: new Date().toISOString(),
  };
}

function lastJsonLine(text) {
  const lines = text.trim().split("\n").reverse();
  for (const line of lines) {
    try {
      const parsed = JSON.parse(line);
      if (parsed && typeof parsed === "object") return parsed;
    } catch {}
  }
  return undefined;
}

function meetsGoal(value, goal) {
  const m = /^\s*(<=|>=|<|>)\s*([\d.eE+-]+)/.exec(goal ?? "");
  if (!m || typeof value !== "number") return null;
  const target = Number(m[2]);
  return { "<=": value <= target, ">=": value >= target, "<": value < target, ">": value > target }[m[1]];
}

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1].split(",") : null;
const results = [];
for (const bench of BENCHES) {
  if (only && !only.includes(bench.name)) continue;
  process.stderr.write(`bench: ${bench.name} ...\n`);
  const started = Date.now();
  const run = spawnSync(
    bench.cmd[0],
    bench.cmd.slice(1).concat(args.includes("--quick") ? ["--quick"] : []),
    {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const seconds = (Date.now() - started) / 1000;
  const parsed = run.status === 0 ? lastJsonLine(run.stdout) : undefined;
  const metrics = parsed ? (Array.isArray(parsed.metrics) ? parsed.metrics : [parsed]) : [];
  if (!metrics.length) {
    results.push({ bench: bench.name, issue: bench.issue, error: `exit ${run.status}`, seconds });
    continue;
  }
  for (const m of metrics)
    results.push({ bench: bench.name, issue: bench.issue, ...m, met: meetsGoal(m.value, m.goal), seconds });
}

const report = { machine: machine(), results };
const outDir = join(root, "bench", "results");
mkdirSync(outDir, { recursive: true });
const write = (name, text) => {
  const tmp = join(outDir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(outDir, name));
};
// a complete run is the record; a partial or quick one must not replace it
const name = only || args.includes("--quick") ? "partial" : "latest";
write(`${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
const md = [
  "# StillMotion benchmarks",
  "",
  `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, node ${report.machine.node}, python ${report.machine.python}, torch ${report.machine.torch}, numpy ${report.machine.numpy}. Commit ${report.machine.gitCommit ?? "-"}, ${report.machine.date}.`,
  "",
  "Every value is a ratio or a rate measured side by side in one run.",
  "",
  "| issue | metric | value | goal | met |",
  "|---|---|---|---|---|",
  ...results.map((r) =>
    r.error
      ? `| ${r.issue} | ${r.bench} | error: ${r.error} | | no |`
      : `| ${r.issue} | \`${r.metric}\` | ${typeof r.value === "number" ? r.value.toFixed(3) : r.value} ${r.unit ?? ""} | ${r.goal ?? ""} | ${r.met === null ? "-" : r.met ? "yes" : "no"} |`,
  ),
  "",
].join("\n");
write(`${name}.md`, md);
process.stdout.write(md);
if (results.some((r) => r.error)) process.exitCode = 1;
