/** Shared helpers for integration tests that run the real Python trainer. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vi } from "vitest";
import { main } from "../src/cli.js";
import { pythonExecutable, trainerDir } from "../src/trainer/python.js";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `stillmotion-${prefix}-`));
}

/** A small synthetic endoscopy dataset made by the trainer's own generator; returns its folder. */
export function makeSyntheticDataset(dir: string, videos = 3, frames = 8, size = 16): string {
  const out = join(dir, "dataset");
  execFileSync(
    pythonExecutable(),
    [
      "-m",
      "stillmotion_trainer",
      "synth",
      "--kind",
      "endoscopy",
      "--out",
      out,
      "--videos",
      String(videos),
    ].concat(["--frames", String(frames), "--size", String(size), "--seed", "0"]),
    { cwd: trainerDir(), stdio: ["ignore", "pipe", "inherit"] },
  );
  return out;
}

/** The smallest config that trains for real: tiny preset, 16x16, short clips. */
export function tinyConfig(dataset: string, maxSteps: number, extra: Record<string, unknown> = {}) {
  return {
    data: { dataset, size: 16, clip_len: 3, batch_size: 2, val_fraction: 0.34 },
    model: { preset: "tiny" },
    train: { seed: 0 },
    val: { every_n_steps: 0 },
    stop: { max_steps: maxSteps },
    checkpoint: { every_n_steps: 5, keep_last: 2 },
    log: { every_n_steps: 1, preview_every_n_steps: 0 },
    ...extra,
  };
}

/** Trains `config` with the Python trainer directly (no CLI) into `<dir>/run`; returns that folder. */
export function trainTinyRun(dir: string, config: Record<string, unknown>): string {
  const runDir = join(dir, "run");
  writeFileSync(join(dir, "run.json"), JSON.stringify(config));
  execFileSync(
    pythonExecutable(),
    ["-m", "stillmotion_trainer", "train", "--config", join(dir, "run.json"), "--run-dir", runDir],
    { cwd: trainerDir(), stdio: ["ignore", "pipe", "pipe"] },
  );
  return runDir;
}

/** Runs the CLI in-process; returns its exit code and what it printed. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  try {
    const code = await main(["node", "stillmotion", ...args]);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
