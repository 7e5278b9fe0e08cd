/**
 * The one error type of @stillmotion/inference, a StillMotionError (packages/losses/src/errors.ts):
 * `code` is the shared gRPC status vocabulary, so errors from the trainer (over gRPC) and from
 * inference map one to one in the CLI and in product code.
 */

import { Code, StillMotionError } from "@stillmotion/losses";

export { Code };

export interface InferenceErrorOptions {
  /** The file the problem is about, when there is one (also at the start of the message). */
  file?: string;
  /** A stable snake_case key finer than the code (e.g. "non_finite_output"). */
  reason?: string;
  cause?: unknown;
}

/** A failure with a code; the message says what was received and what is allowed. */
export class InferenceError extends StillMotionError {
  readonly file: string | undefined;

  constructor(code: Code, message: string, options: InferenceErrorOptions = {}) {
    super(code, options.file === undefined ? message : `${options.file}: ${message}`, options);
    this.name = "InferenceError";
    this.file = options.file;
  }
}

/** Throw INVALID_ARGUMENT naming `what` when `ok` is false. */
export function invalidArgument(what: string, received: unknown, expected: string): InferenceError {
  return new InferenceError(
    Code.INVALID_ARGUMENT,
    `${what}: expected ${expected}, got ${describe(received)}`,
  );
}

/** A short, safe rendering of a received value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value))
    return `a ${value.constructor.name} of length ${(value as Float32Array).length}`;
  return `a ${typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value}`;
}
