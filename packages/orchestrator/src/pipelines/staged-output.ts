/**
 * An output folder written as a whole or not at all (`generate`, `propagate`). Everything goes
 * into a staging folder beside the output, which takes the output's place in one rename once the
 * command has finished. A failure (a truncated image, ENOSPC) or an interrupt removes the staging
 * folder, so the output path holds the previous complete result or nothing; re-running into a
 * folder that holds files is refused unless the user asks to replace it (`--overwrite`), so old
 * and new frames never mix.
 */
import { readdirSync, rmSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { replaceDirAtomic, tempPathFor } from "@stillmotion/inference";
import { Code, StillMotionError } from "../errors.js";

export interface StagedOutputOptions {
  /** Replace a non-empty output folder (default: refuse it). */
  overwrite?: boolean;
}

/** Entries of `dir`, or undefined when nothing is there; refuses a file in the folder's place. */
function entriesOf(dir: string): string[] | undefined {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (!isDir) throw new StillMotionError(Code.INVALID_ARGUMENT, `${dir}: --out is a file, expected a folder`);
  return readdirSync(dir);
}

/**
 * A system error as the user should read it: about the output, not the staging folder the
 * failure has just removed (a file in it is named by its place in the output), and the output
 * folder when the error carries no path (ENOSPC from write(2) on a file descriptor).
 */
function namingOutput(err: unknown, staged: StagedOutput): unknown {
  const sys = err as NodeJS.ErrnoException;
  if (!(sys instanceof Error) || typeof sys.code !== "string") return err;
  if (!sys.path) sys.path = staged.out;
  else if (sys.path === staged.stage || sys.path.startsWith(staged.stage + sep)) {
    sys.path = join(staged.out, relative(staged.stage, sys.path));
  }
  return err;
}

/** Staging folders still open in this process: an interrupt removes them (see interrupt.ts). */
const open = new Set<StagedOutput>();

export class StagedOutput {
  private constructor(
    /** The final output folder. */
    readonly out: string,
    /** Where the command writes; becomes `out` on publish(). */
    readonly stage: string,
  ) {}

  /** Check `out` may be written, then create its staging folder. */
  static async open(out: string, options: StagedOutputOptions = {}): Promise<StagedOutput> {
    const target = resolve(out);
    const entries = entriesOf(target);
    if (entries?.length && !options.overwrite) {
      throw new StillMotionError(
        Code.ALREADY_EXISTS,
        `${target}: output folder is not empty (${entries.length} entries); pass --overwrite to replace it, or choose another --out`,
      );
    }
    const staged = new StagedOutput(target, `${tempPathFor(target)}.staging`);
    await mkdir(staged.stage, { recursive: true });
    open.add(staged);
    return staged;
  }

  /** Move the finished staging folder into place (an old output is dropped only after that). */
  async publish(): Promise<void> {
    await replaceDirAtomic(this.stage, this.out);
    open.delete(this);
  }

  /** Remove the staging folder; synchronous so a signal handler can call it before exiting. */
  discard(): void {
    rmSync(this.stage, { recursive: true, force: true, maxRetries: 3 });
    open.delete(this);
  }

  /** Run `write(stage)`, then publish; on any failure the staging folder is removed. */
  static async write<T>(
    out: string,
    options: StagedOutputOptions,
    write: (stage: StagedOutput) => Promise<T>,
  ): Promise<T> {
    const staged = await StagedOutput.open(out, options);
    try {
      const result = await write(staged);
      await staged.publish();
      return result;
    } catch (err) {
      staged.discard();
      throw namingOutput(err, staged);
    }
  }

  /** Discard every staging folder still open (an interrupt's cleanup). */
  static discardAll(): void {
    for (const staged of [...open]) staged.discard();
  }
}
