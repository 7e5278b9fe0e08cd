/**
 * SIGINT/SIGTERM while a command writes its output. Node's default is to die on the spot: no
 * message, a half-written output folder, children left running (issues N8, N9). Here the
 * command's staging folders are removed, its child processes are stopped and awaited (so none of
 * them writes after we are gone), the user gets one line `stillmotion: CANCELLED: ...`, and the
 * process exits 128 + the signal number, as a shell expects of a process killed by a signal.
 */
import type { ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { Code, errorLine, StillMotionError } from "../errors.js";
import { StagedOutput } from "./staged-output.js";

/** How long a child gets to clean up after SIGTERM before it is killed. */
const CHILD_GRACE_MS = 5_000;

export interface InterruptScope {
  /** Stop `child` (SIGTERM, then SIGKILL) and wait for it if the command is interrupted. */
  track(child: ChildProcess): void;
  /** Whether a signal has arrived (cleanup is under way). */
  interrupted(): boolean;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * Run `fn` so that an interrupt undoes what is half done and ends the process with one line.
 * `what` names the command and its output, e.g. "propagate into out/masks".
 */
export async function interruptible<T>(what: string, fn: (scope: InterruptScope) => Promise<T>): Promise<T> {
  const children = new Set<ChildProcess>();
  let interrupted = false;
  const onSignal = async (signal: NodeJS.Signals) => {
    // A second signal while we clean up: the user means it, stop now.
    if (interrupted) process.exit(128 + constants.signals[signal]);
    interrupted = true;
    StagedOutput.discardAll();
    await Promise.all([...children].map(stopChild));
    // The pipeline may still have written a file into the staging folder meanwhile.
    StagedOutput.discardAll();
    const error = new StillMotionError(
      Code.CANCELLED,
      `${what}: interrupted by ${signal}; nothing was written`,
    );
    process.stderr.write(`${errorLine(error)}\n`);
    process.exit(128 + constants.signals[signal]);
  };
  const onInt = () => void onSignal("SIGINT");
  const onTerm = () => void onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await fn({
      track: (child) => {
        children.add(child);
        child.once("exit", () => children.delete(child));
      },
      interrupted: () => interrupted,
    });
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}
