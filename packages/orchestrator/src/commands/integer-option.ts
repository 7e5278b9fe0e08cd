/**
 * A commander argument parser for whole-number options. `Number` as a parser let `--size abc`
 * through as NaN (silently ignored) and `--restart-on-failure abc` as NaN (no limit at all); this
 * one refuses anything but an integer in [min, max] with a typed error naming the option, which
 * commander passes on to the CLI's one-line error.
 */
import { Code, StillMotionError } from "../errors.js";

export function integerOption(flag: string, min: number, max: number, why = ""): (value: string) => number {
  return (value: string) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new StillMotionError(
        Code.INVALID_ARGUMENT,
        `${flag}: expected an integer in [${min}, ${max}]${why}, got ${JSON.stringify(value)}`,
      );
    }
    return n;
  };
}
