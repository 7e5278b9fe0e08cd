/**
 * Locating the repository's shared folders (schemas/, python-trainer/) from the installed
 * package, by walking up from this file; $STILLMOTION_HOME overrides.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, StillMotionError } from "./errors.js";

export function repoRoot(): string {
  const fromEnv = process.env.STILLMOTION_HOME;
  if (fromEnv) return resolve(fromEnv);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(resolve(dir, "schemas")) && existsSync(resolve(dir, "python-trainer"))) return dir;
    dir = dirname(dir);
  }
  throw new StillMotionError(
    Code.NOT_FOUND,
    "cannot find the StillMotion checkout (schemas/ and python-trainer/); set STILLMOTION_HOME",
  );
}

export function schemaPath(name: string): string {
  return resolve(repoRoot(), "schemas", name);
}
