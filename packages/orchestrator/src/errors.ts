/**
 * Typed errors for the orchestrator: the shared base of every StillMotion package (defined in
 * @stillmotion/losses, the package all others depend on). Codes reuse gRPC's status codes so an
 * error raised by the trainer maps one to one onto what the CLI reports.
 */
import { Code, StillMotionError } from "@stillmotion/losses";

export { Code, codeFromName, StillMotionError } from "@stillmotion/losses";

/** Node's errno names -> gRPC status, for system errors that escape a command (fs, spawn). */
const ERRNO_CODES: Record<string, Code> = {
  ENOENT: Code.NOT_FOUND,
  ENOTDIR: Code.INVALID_ARGUMENT,
  EISDIR: Code.INVALID_ARGUMENT,
  EEXIST: Code.ALREADY_EXISTS,
  EACCES: Code.PERMISSION_DENIED,
  EPERM: Code.PERMISSION_DENIED,
  EROFS: Code.PERMISSION_DENIED,
  ENOSPC: Code.RESOURCE_EXHAUSTED,
  EDQUOT: Code.RESOURCE_EXHAUSTED,
  EMFILE: Code.RESOURCE_EXHAUSTED,
  EIO: Code.DATA_LOSS,
  EADDRINUSE: Code.UNAVAILABLE,
  ECONNREFUSED: Code.UNAVAILABLE,
};

/**
 * Any thrown value as a StillMotionError: ours unchanged (InferenceError, DatasetError,
 * LossInputError... all derive from it), a Node system error by its errno as `path: problem
 * (syscall)`, anything else INTERNAL. The one place that decides what the CLI user is told.
 */
export function asStillMotionError(err: unknown): StillMotionError {
  if (err instanceof StillMotionError) return err;
  const sys = err as NodeJS.ErrnoException | undefined;
  if (sys instanceof Error && typeof sys.code === "string" && sys.code in ERRNO_CODES) {
    // Node writes "ENOENT: no such file or directory, open '/x'": keep the middle part.
    const problem = /^[A-Z0-9_]+: ([^,]+)/.exec(sys.message)?.[1] ?? sys.message;
    const message = sys.path ? `${sys.path}: ${problem} (${sys.syscall ?? sys.code})` : sys.message;
    return new StillMotionError(ERRNO_CODES[sys.code], message, {
      reason: sys.code.toLowerCase(),
      cause: err,
    });
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new StillMotionError(Code.INTERNAL, `unexpected error: ${text}`, { cause: err });
}

/** `stillmotion: CODE: message` on exactly one line (multi-line messages joined with "; "). */
export function errorLine(err: StillMotionError): string {
  const lines = err.message.split("\n").map((line) => line.trim());
  return `stillmotion: ${err.codeName}: ${lines.filter(Boolean).join("; ")}`;
}
