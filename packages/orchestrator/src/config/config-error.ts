/**
 * The one error of a bad run config: `errors` are `path: message` lines, worded the same as the
 * Python trainer's ConfigError (stillmotion_trainer/training/config.py) for the same problem.
 */
import { Code, StillMotionError } from "../errors.js";

export class ConfigError extends StillMotionError {
  constructor(
    readonly errors: string[],
    readonly source: string,
    reason?: string,
  ) {
    super(Code.INVALID_ARGUMENT, `${source}: invalid config\n  ${errors.join("\n  ")}`, { reason });
    this.name = "ConfigError";
  }
}
