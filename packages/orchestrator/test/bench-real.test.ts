/**
 * The real-data benchmark (tools/realdata/benchmark.mjs, docs/real-data.md) on the vendored
 * real clip (data/real/vocalfolds-seq8-128): keys every 10 frames, a few seconds of training at
 * 64 px, evaluation through the built CLI. Needs `npm run build` (npm test builds first).
 * About 30 s on two idle cores, a minute on busy ones; the timeout leaves room for a machine
 * shared with other trainings, where the evaluation alone has taken three minutes.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const script = join(repoRoot, "tools/realdata/benchmark.mjs");
const vendored = join(repoRoot, "data/real/vocalfolds-seq8-128");

interface Scores {
  dice: number;
  iou: number;
  boundary_f: number;
}
interface Entry {
  protocol: string;
  size: number;
  mode: string;
  skipped?: string;
  error?: string;
  scored_frames: number;
  frame_weighted: Record<"model" | "copy_key" | "flow", Scores>;
  margin: Scores;
  per_clip: Array<{ id: string; key_frames: number[]; scored_frames: number }>;
  train: { reason: string; step: number };
  commands: string[];
}

/**
 * Run the script in its own process group, so that a timeout also ends the trainer processes it
 * started (killing only node would leave them running).
 */
function bench(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), 290_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

describe("npm run bench:real", () => {
  const dir = tempDir("bench-real");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("--quick trains and scores the vendored clip beside copy-key and flow", async () => {
    const missing = join(dir, "no-such.pt");
    const run = await bench(
      "--dataset",
      vendored,
      "--quick",
      "--minutes",
      "0.05",
      "--checkpoint",
      missing,
      "--out",
      join(dir, "out"),
      "--work",
      join(dir, "work"),
    );
    expect(run.status, run.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, "out/latest.json"), "utf8"));
    expect(doc).toMatchObject({ format: "stillmotion-real-benchmark", protocols: ["every:10"], sizes: [64] });
    const [a, b] = doc.results as Entry[];
    expect(a).toMatchObject({ protocol: "every:10", size: 64, mode: "a" });
    expect(a.error).toBeUndefined();
    expect(a.train.reason).toBe("time_budget");
    for (const method of ["model", "copy_key", "flow"] as const) {
      for (const metric of ["dice", "iou", "boundary_f"] as const) {
        const v = a.frame_weighted[method][metric];
        expect(Number.isFinite(v) && v >= 0 && v <= 1, `${method}.${metric} = ${v}`).toBe(true);
      }
    }
    const best = Math.max(a.frame_weighted.copy_key.dice, a.frame_weighted.flow.dice);
    expect(a.margin.dice).toBeCloseTo(a.frame_weighted.model.dice - best, 3);
    // --quick keeps 40 frames, all masked; keys 0, 10, 20, 30: the other 36 are scored
    expect(doc.max_frames).toBe(40);
    expect(a.per_clip).toEqual([expect.objectContaining({ id: "seq8", scored_frames: 36 })]);
    expect(a.per_clip[0].key_frames).toEqual([0, 10, 20, 30]);
    expect(a.commands.map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual([
      "stillmotion train",
      "stillmotion eval",
    ]);
    // the correction is fitted to the clip's key frames before propagating (a few steps in --quick)
    expect(doc.adapt_steps).toBe(5);
    expect(a.commands[1]).toContain("--reference key --adapt-steps 5");
    expect(b).toMatchObject({ mode: "b", skipped: expect.stringContaining("no-such.pt not found") });
    const md = readFileSync(join(dir, "out/latest.md"), "utf8");
    expect(md).toContain("| every:10 | 64 | a (trained on the clips) | 36 |");
    expect(run.stdout).toBe(md);
  }, 300_000);

  it("--dry-run prints the commands; bad options fail in one line", async () => {
    const dry = await bench(
      "--data",
      "/clips",
      "--protocols",
      "first,every:5",
      "--sizes",
      "128",
      "--dry-run",
    );
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      "stillmotion dataset import clips /clips --out bench/results/tmp/real-data/imported",
    );
    expect(dry.stdout).toContain("--protocol every:5 --write --assign gt");
    expect(dry.stdout).toContain("--size 128 --reference key --adapt-steps 300 --json");
    expect(dry.stdout).toMatch(
      /stillmotion train -c \S+ --set data.dataset=\S+every-5\/dataset --set data.size=128/,
    );
    const bad = await bench("--data", "/clips", "--protocols", "last");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(
      'bench:real: --protocols: unknown protocol "last"; allowed: first, every:N (N >= 1)',
    );
    const half = await bench(
      "--data",
      "/clips",
      "--sizes",
      "256",
      "--modes",
      "b",
      "--downsample",
      "2",
      "--dry-run",
    );
    expect(half.stdout).toContain("--size 256 --reference key --adapt-steps 300 --downsample 2 --json");
    const zero = await bench("--data", "/clips", "--downsample", "0");
    expect(zero.stderr.trim()).toBe('bench:real: --downsample must be an integer >= 1, got "0"');
    const both = await bench("--data", "/a", "--dataset", "/b");
    expect(both.stderr.trim()).toBe(
      "bench:real: give exactly one of --data <clips root> and --dataset <imported dataset>",
    );

    const { margins } = await import(pathToFileURL(script).href);
    const score = (dice: number) => ({ dice, iou: dice / 2, boundary_f: null });
    expect(margins({ model: score(0.5), copy_key: score(0.25), flow: score(0.75) })).toEqual({
      dice: -0.25,
      iou: -0.125,
      boundary_f: null,
    });
  });
});
