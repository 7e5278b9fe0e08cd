/** The one error type of the package: bad input to a loss or metric, named `argument: problem`. */

/** gRPC-style status code, so trainer errors (Python `LossInputError.code`) map one to one. */
export type LossErrorCode = "INVALID_ARGUMENT";

/**
 * Wrong shape, NaN, value out of range or unknown name. Mirrors Python
 * `stillmotion_trainer.losses.validation.LossInputError`; `argument` is the camelCase name of the
 * offending parameter (Python uses the snake_case one).
 */
export class LossInputError extends Error {
  override readonly name = "LossInputError";
  readonly code: LossErrorCode = "INVALID_ARGUMENT";

  constructor(
    readonly argument: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${argument}: ${problem}`, options);
  }
}
