/**
 * Where the Python trainer lives and which interpreter runs it. Debian's /usr/bin/python3 carries
 * torch, grpcio and pyzmq; the `python3` first on PATH on our machines may be another build.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, StillMotionError } from "../errors.js";

export function pythonExecutable(): string {
  return process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";
}

/** The python-trainer folder: $STILLMOTION_TRAINER_DIR, or found by walking up from this file. */
export function trainerDir(): string {
  const fromEnv = process.env.STILLMOTION_TRAINER_DIR;
  if (fromEnv) return resolve(fromEnv);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = resolve(dir, "python-trainer");
    if (existsSync(resolve(candidate, "stillmotion_trainer", "__init__.py"))) return candidate;
    dir = dirname(dir);
  }
  throw new StillMotionError(
    Code.NOT_FOUND,
    "cannot find python-trainer/stillmotion_trainer; set STILLMOTION_TRAINER_DIR to the python-trainer folder",
  );
}

/** Environment for a trainer child process: the package importable, unbuffered output. */
export function trainerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const dir = trainerDir();
  const pythonPath = process.env.PYTHONPATH ? `${dir}:${process.env.PYTHONPATH}` : dir;
  return { ...process.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: "1", ...extra };
}
