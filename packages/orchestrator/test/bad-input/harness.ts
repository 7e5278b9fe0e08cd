/**
 * The bad-input suite's harness: one shared fixture (a real tiny training run, its exported
 * generator, broken copies of both, a small dataset and stills), the built CLI run as a child
 * process, and the one assertion every case makes: a non-zero exit, exactly one stderr line
 * `stillmotion: CODE: message` naming the file or field, and nothing at the output path.
 *
 * The fixture is built once per vitest run and shared by every surface file (vitest runs files in
 * worker processes of one main process; a lock folder keyed by that process makes the first
 * worker build it and the others wait), so the suite pays for one training run, not seven.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import { beforeAll, expect, vi } from "vitest";
import { pythonExecutable, trainerDir } from "../../src/trainer/python.js";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The built CLI: the suite tests what a user runs, not the sources. */
export const BIN = join(packageDir, "dist", "bin.js");

/** One case: a CLI start (and for some a Python start) while other cases run beside it. */
export const CASE_TIMEOUT_MS = 300_000;

/** Long enough for one training run on a loaded 2-core machine. */
export const FIXTURE_TIMEOUT_MS = 900_000;

export interface Fixture {
  root: string;
  /** 2 synthetic videos x 6 frames, 16 px, one key-frame mask each. */
  dataset: string;
  /** 24 px stills (images only). */
  stills: string;
  /** A real run: trained 2 steps by `stillmotion train`. */
  runDir: string;
  /** Its generator, exported by `stillmotion export`. */
  model: string;
  /** Broken models (see BREAK_MODELS) and checkpoints (see BAD_CHECKPOINTS), by name. */
  models: string;
  checkpoints: string;
  /** A tiny config that trains on `dataset`. */
  config: Record<string, unknown>;
}

/** Broken copies of the exported generator and of its checkpoint, made with onnx and torch. */
const BREAK_SCRIPT = `
import pickle, sys, numpy as np, onnx, torch
from onnx import helper, numpy_helper, TensorProto
src, ckpt, models, ckpts = sys.argv[1:5]
m = onnx.load(src)
for init in m.graph.initializer:
    a = numpy_helper.to_array(init)
    if a.dtype.kind == "f":
        init.CopyFrom(numpy_helper.from_array(np.full_like(a, np.nan), init.name))
onnx.save(m, models + "/nan-weights.onnx")
m = onnx.load(src)
for node in m.graph.node:
    node.input[:] = ["masks" if i == "mask" else i for i in node.input]
next(i for i in m.graph.input if i.name == "mask").name = "masks"
onnx.save(m, models + "/renamed-input.onnx")
m = onnx.load(src)
del m.metadata_props[:]
onnx.save(m, models + "/no-metadata.onnx")
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "foreign", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), models + "/foreign.onnx")
class Payload:
    def __reduce__(self):
        return (print, ("payload ran",))
torch.save({"model": {}, "generator_config": {}, "x": Payload()}, ckpts + "/pickled-object.pt")
with open(ckpts + "/legacy-pickle.pt", "wb") as f:
    pickle.dump({"model": {}, "generator_config": {}}, f)
torch.save({"weights": torch.zeros(3)}, ckpts + "/not-a-checkpoint.pt")
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), ckpts + "/torchscript.pt")
`;

/** The vitest main process: the key that lets every surface file share one fixture. */
function vitestRunKey(): number {
  return isMainThread ? process.ppid : process.pid;
}

function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((done, fail) => {
    const poll = () => {
      if (check()) done();
      else if (Date.now() > deadline) fail(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 250);
    };
    poll();
  });
}

function python(args: string[]): void {
  execFileSync(pythonExecutable(), args, { cwd: trainerDir(), stdio: ["ignore", "ignore", "pipe"] });
}

/** A synthetic endoscopy dataset (16 px, one key-frame mask per video) by the trainer's generator. */
export function synth(out: string, videos: number, frames: number): string {
  const sizes = ["--videos", String(videos), "--frames", String(frames), "--size", "16", "--seed", "0"];
  python(["-m", "stillmotion_trainer", "synth", "--kind", "endoscopy", "--out", out, ...sizes]);
  return out;
}

async function cliOrThrow(args: string[]): Promise<void> {
  const run = await runCli(args);
  if (run.code !== 0) throw new Error(`stillmotion ${args.join(" ")} failed (${run.code}):\n${run.stderr}`);
}

async function build(root: string): Promise<Fixture> {
  const dataset = join(root, "dataset");
  synth(dataset, 2, 6);
  const stills = join(root, "stills");
  mkdirSync(stills);
  for (const v of ["000", "001"]) {
    writeFileSync(
      join(stills, `still-${v}.png`),
      readFileSync(join(dataset, "frames", `video-${v}`, "000000.png")),
    );
  }
  const config = {
    data: { dataset, size: 16, clip_len: 3, batch_size: 2, val_fraction: 0.5 },
    model: { preset: "tiny" },
    train: { seed: 0 },
    val: { every_n_steps: 0 },
    stop: { max_steps: 2 },
    checkpoint: { every_n_steps: 2, keep_last: 1 },
    log: { every_n_steps: 1, preview_every_n_steps: 0 },
  };
  writeFileSync(join(root, "config.json"), JSON.stringify(config));
  const runDir = join(root, "run");
  await cliOrThrow(["train", "-c", join(root, "config.json"), "--run-dir", runDir]);
  const model = join(root, "generator.onnx");
  await cliOrThrow(["export", runDir, "--out", model]);
  const models = join(root, "models");
  const checkpoints = join(root, "checkpoints");
  mkdirSync(models);
  mkdirSync(checkpoints);
  const ckpt = join(runDir, "checkpoints", readdirSync(join(runDir, "checkpoints")).sort()[0]);
  python(["-c", BREAK_SCRIPT, model, ckpt, models, checkpoints]);
  const onnx = readFileSync(model);
  writeFileSync(join(models, "empty.onnx"), "");
  writeFileSync(join(models, "truncated.onnx"), onnx.subarray(0, onnx.length >> 1));
  writeFileSync(join(models, "text.onnx"), "not a model\n");
  const pt = readFileSync(ckpt);
  writeFileSync(join(checkpoints, "empty.pt"), "");
  writeFileSync(join(checkpoints, "truncated.pt"), pt.subarray(0, pt.length >> 1));
  writeFileSync(join(checkpoints, "text.pt"), "not a checkpoint\n");
  return { root, dataset, stills, runDir, model, models, checkpoints, config };
}

/**
 * A surface file's set-up: the per-case timeout (each case starts the CLI, some the trainer:
 * minutes on a loaded 2-core machine), and the shared fixture, filled in before the
 * first case runs (the object is empty until then: read it inside cases only).
 */
export function useSharedFixture(): Fixture {
  vi.setConfig({ testTimeout: CASE_TIMEOUT_MS });
  const fx = {} as Fixture;
  beforeAll(async () => {
    Object.assign(fx, await sharedFixture());
  }, FIXTURE_TIMEOUT_MS);
  return fx;
}

/** The shared fixture: built by the first file that asks, read by the others. */
export async function sharedFixture(): Promise<Fixture> {
  const root = join(tmpdir(), `stillmotion-bad-input-${vitestRunKey()}`);
  const ready = join(root, "fixture.json");
  const failed = join(root, "fixture-failed.txt");
  try {
    mkdirSync(root); // the lock: exactly one worker creates it
  } catch {
    await waitFor(() => existsSync(ready) || existsSync(failed), FIXTURE_TIMEOUT_MS, "the shared fixture");
    if (existsSync(failed)) throw new Error(`shared fixture failed: ${readFileSync(failed, "utf8")}`);
    return JSON.parse(readFileSync(ready, "utf8")) as Fixture;
  }
  try {
    const fixture = await build(root);
    writeFileSync(ready, JSON.stringify(fixture));
    return fixture;
  } catch (err) {
    writeFileSync(failed, String((err as Error).stack ?? err));
    throw err;
  }
}

/** A fresh folder for one case's inputs and outputs. */
export function caseDir(fixture: Fixture, name: string): string {
  const dir = join(fixture.root, "cases", `${name.replace(/[^A-Za-z0-9]+/g, "-")}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Called once the CLI is spawned, with the child (signal tests send their signal from it). */
  onSpawn?: (child: ChildProcess, output: { stderr: () => string }) => void;
  timeoutMs?: number;
}

/** Run the built CLI as a user would; resolves when it has exited. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, STILLMOTION_DEBUG: "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  options.onSpawn?.(child, { stderr: () => stderr });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
  return new Promise((done) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    }),
  );
}

/** The lines of `stderr` that are error lines. */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /^stillmotion: [A-Z_]+: /.test(line));
}

export interface Expected {
  /** The gRPC code name, e.g. "INVALID_ARGUMENT". */
  code: string;
  /** Text the line must contain: the file or field it names. */
  names: string;
  /** Paths that must not exist afterwards (the output, and anything else the case guards). */
  absent?: string[];
}

/** The suite's contract for every bad input. */
export function expectFailure(run: CliRun, expected: Expected): void {
  const lines = errorLines(run.stderr);
  expect(run.code, run.stderr).not.toBe(0);
  expect(run.code, run.stderr).not.toBeNull();
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^stillmotion: ${expected.code}: `));
  expect(lines[0]).toContain(expected.names);
  // A stack trace or a Python traceback never reaches the user.
  expect(run.stderr).not.toMatch(/Traceback|\n\s+at /);
  for (const path of expected.absent ?? []) expect(existsSync(path), `${path} exists`).toBe(false);
}

/** Files in `dir` whose names say they are temporary or staging leftovers. */
export function leftovers(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir).filter((f) => /\.tmp|staging|\.old/.test(f));
}

/** The direct children of a live process (Linux). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether a process is alive (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

export { waitFor };
