/**
 * The one error vocabulary of StillMotion's TypeScript packages: every typed error derives from
 * `StillMotionError`, which carries a gRPC status `code` and an optional finer `reason`. It lives
 * here because every package depends on @stillmotion/losses (inference, orchestrator), so the CLI
 * maps all of them in one place. Mirrors Python `stillmotion_trainer.errors.StillMotionError`,
 * whose `code` is the same status by name ("INVALID_ARGUMENT"), so trainer errors map one to one.
 */

/** gRPC status codes (numbers as in grpc/status.h); `Code[code]` is the wire name. */
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

/** The Code for a gRPC status name ("NOT_FOUND"), or undefined when it names none. */
export function codeFromName(name: string): Code | undefined {
  const value = (Code as unknown as Record<string, unknown>)[name];
  return typeof value === "number" ? (value as Code) : undefined;
}

export interface StillMotionErrorOptions {
  /** A stable snake_case key finer than the code (e.g. DatasetError's "unreadable_image"). */
  reason?: string;
  cause?: unknown;
}

/** Base of every typed error: the message says what was received and what is allowed. */
export class StillMotionError extends Error {
  readonly code: Code;
  readonly reason: string | undefined;

  constructor(code: Code, message: string, options: StillMotionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StillMotionError";
    this.code = code;
    this.reason = options.reason;
  }

  /** The code's gRPC name, e.g. "FAILED_PRECONDITION". */
  get codeName(): string {
    return Code[this.code];
  }

  /** e.g. "INVALID_ARGUMENT: train.lr: must be > 0, got -1" */
  override toString(): string {
    return `${this.codeName}: ${this.message}`;
  }
}

/**
 * Wrong shape, NaN, value out of range or unknown name. Mirrors Python
 * `stillmotion_trainer.losses.validation.LossInputError`; `argument` is the camelCase name of the
 * offending parameter (Python uses the snake_case one).
 */
export class LossInputError extends StillMotionError {
  constructor(
    readonly argument: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(Code.INVALID_ARGUMENT, `${argument}: ${problem}`, options);
    this.name = "LossInputError";
  }
}
