/**
 * The `stillmotion` command line. Commands live in ./commands (one module each); this file only
 * assembles them and maps errors to exit codes.
 */
import { Command, CommanderError } from "commander";
import { commands } from "./commands/index.js";
import { Code, StillMotionError } from "./errors.js";

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

/** Runs the CLI; returns the process exit code (2 for usage errors, 1 for failures). */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof StillMotionError) {
      console.error(`stillmotion: ${Code[err.code]}: ${err.message}`);
      return err.code === Code.INVALID_ARGUMENT ? 2 : 1;
    }
    console.error("stillmotion: unexpected error:", err);
    return 1;
  }
}
