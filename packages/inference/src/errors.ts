/**
 * The one error type of @stillmotion/inference. `code` reuses gRPC status codes, so errors from
 * the trainer (over gRPC) and from inference map one to one in the CLI and in product code.
 */

/** gRPC status codes (numbers as in grpc/status.h) used by this package. */
export enum Code {
  InvalidArgument = 3,
  NotFound = 5,
  FailedPrecondition = 9,
  Aborted = 10,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
}

export interface InferenceErrorOptions {
  /** The file the problem is about, when there is one (also at the start of the message). */
  file?: string;
  cause?: unknown;
}

/** A failure with a code; the message says what was received and what is allowed. */
export class InferenceError extends Error {
  override readonly name = "InferenceError";
  readonly code: Code;
  readonly file: string | undefined;

  constructor(code: Code, message: string, options: InferenceErrorOptions = {}) {
    super(options.file === undefined ? message : `${options.file}: ${message}`, { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }

  /** The code's gRPC name, e.g. "FAILED_PRECONDITION". */
  get codeName(): string {
    return Code[this.code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
  }
}

/** Throw INVALID_ARGUMENT naming `what` when `ok` is false. */
export function invalidArgument(what: string, received: unknown, expected: string): InferenceError {
  return new InferenceError(Code.InvalidArgument, `${what}: expected ${expected}, got ${describe(received)}`);
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
