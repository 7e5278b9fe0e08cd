/**
 * The `stillmotion` command line. Commands live in ./commands (one module each); this file only
 * assembles them and maps errors to exit codes.
 */
import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { asStillMotionError, Code, errorLine } from "./errors.js";

export function buildProgram(): Command {
  const program = new Command("stillmotion")
    .description("Still images to annotated video; sparse masks to masks on every frame.")
    .version("0.1.0")
    .showHelpAfterError()
    // Before registering: subcommands copy these settings, so usage errors return instead of exiting.
    .exitOverride();
  for (const command of commands) command.register(program);
  return program;
}

/**
 * Runs the CLI; returns the process exit code: 0 done, 2 usage or INVALID_ARGUMENT, 1 any other
 * failure (printed as one line `stillmotion: CODE: message`; STILLMOTION_DEBUG=1 adds the stack of
 * an unexpected one).
 */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    // Every error, whichever package raised it, reaches the user as one line.
    const error = asStillMotionError(err);
    console.error(errorLine(error));
    // Not one of ours: a bug. The stack helps a report, but only when asked for.
    if (error.code === Code.INTERNAL && process.env.STILLMOTION_DEBUG) console.error(err);
    return error.code === Code.INVALID_ARGUMENT ? 2 : 1;
  }
}
