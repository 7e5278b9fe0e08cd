/**
 * Typed errors for the orchestrator. Codes reuse gRPC's status codes so an error raised by the
 * trainer maps one to one onto what the CLI reports.
 */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export class StillMotionError extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StillMotionError";
    this.code = code;
  }

  /** e.g. "INVALID_ARGUMENT: train.lr: must be > 0, got -1" */
  override toString(): string {
    return `${Code[this.code]}: ${this.message}`;
  }
}
