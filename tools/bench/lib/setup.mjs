/**
 * What the benchmark scripts of tools/bench set up alike: the repository's paths, the command
 * line, the built @stillmotion/inference library, the trainer's Python as a child process, and
 * the median they report.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const TRAINER = join(ROOT, "python-trainer");
export const PYTHON = process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";

/**
 * The script's options. `strings`: each string option and its default (undefined: none);
 * `flags`: the boolean options (false unless given). `--quick` is always accepted, since
 * `npm run bench -- --quick` (tools/bench/run.mjs) passes it to every script; unknown options throw.
 */
export function benchOptions(strings, flags = []) {
  const options = { quick: { type: "boolean", default: false } };
  for (const [name, value] of Object.entries(strings))
    options[name] = value === undefined ? { type: "string" } : { type: "string", default: value };
  for (const name of flags) options[name] = { type: "boolean", default: false };
  return parseArgs({ options }).values;
}

/** The built @stillmotion/inference; exits 1 saying how to build it when it cannot be imported. */
export async function importInference() {
  try {
    return await import("@stillmotion/inference");
  } catch (err) {
    console.error(`cannot import @stillmotion/inference (run \`npm run build\` first): ${err.message}`);
    process.exit(1);
  }
}

/** The trainer's Python running `args` in python-trainer/, with the trainer importable. */
export function spawnPython(args, options = {}) {
  return spawn(PYTHON, args, { cwd: TRAINER, env: { ...process.env, PYTHONPATH: TRAINER }, ...options });
}

/**
 * Runs the trainer's Python with `args` to its end and resolves the JSON object on its last
 * stdout line; rejects naming `what` (with the child's stderr) when it exits non-zero.
 */
export function runPythonJson(args, what) {
  return new Promise((done, fail) => {
    const child = spawnPython(args);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => {
      if (code !== 0) return fail(new Error(`${what} failed (exit ${code}): ${stderr || stdout}`));
      try {
        done(JSON.parse(stdout.trim().split("\n").pop()));
      } catch {
        fail(new Error(`${what}: the last stdout line is not JSON: ${stdout}`));
      }
    });
  });
}

/** The median of `xs` (for an even count, the upper of the two middle values). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
