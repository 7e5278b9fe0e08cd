/**
 * One-shot trainer commands (`python -m stillmotion_trainer <command> ...`) whose last stdout
 * line is a JSON report: export, synth, dataset-check. Errors keep the trainer's own message.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Code, StillMotionError } from "../errors.js";
import { pythonExecutable, trainerDir, trainerEnv } from "./python.js";

export interface PythonCommandOptions {
  /** Receives each stderr line (progress, logs). */
  onStderr?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Receives the child as soon as it is spawned (an interrupt handler stops and awaits it). */
  onSpawn?: (child: ChildProcess) => void;
}

export async function runTrainerCommand<T = Record<string, unknown>>(
  args: string[],
  options: PythonCommandOptions = {},
): Promise<T> {
  const child = spawn(pythonExecutable(), ["-m", "stillmotion_trainer", ...args], {
    cwd: trainerDir(),
    env: trainerEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  options.onSpawn?.(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    stderr += text;
    if (options.onStderr) for (const line of text.split("\n")) if (line) options.onStderr(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", (err) =>
      reject(new StillMotionError(Code.UNAVAILABLE, `cannot start ${pythonExecutable()}: ${err.message}`)),
    );
    child.once("exit", resolve);
  });
  const lastLine = stdout.trim().split("\n").at(-1) ?? "";
  let report: (T & { ok?: boolean; error?: string; code?: string }) | undefined;
  try {
    report = JSON.parse(lastLine);
  } catch {
    report = undefined;
  }
  if (code !== 0 || !report || report.ok === false) {
    const why = report?.error ?? (stderr.trim().split("\n").slice(-5).join("\n") || `exit code ${code}`);
    // The trainer names a gRPC status ("NOT_FOUND", ...) when it knows one; keep it.
    const named = report?.code && report.code in Code ? Code[report.code as keyof typeof Code] : undefined;
    throw new StillMotionError(
      named ?? (code === 2 ? Code.INVALID_ARGUMENT : Code.INTERNAL),
      `${args[0]}: ${why}`,
    );
  }
  return report;
}
