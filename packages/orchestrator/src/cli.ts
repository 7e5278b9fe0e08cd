/**
 * The `stillmotion` command line. Commands live in ./commands (one module each, imported only
 * when that command runs); this file only assembles them and maps errors to exit codes.
 */
import { Command, CommanderError } from "commander";
import { commandFor, loadAll, registerSummaries } from "./commands/index.js";
import { asStillMotionError, Code, errorLine } from "./errors.js";

/**
 * The program for `args` (the words after `stillmotion`): only the module of the command they
 * name is loaded; without a command (`--help`, a group, a typo) every command is listed by its
 * summary and nothing heavy loads. Without `args`, every command is registered in full.
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const program = new Command("stillmotion")
    .description("Still images to annotated video; sparse masks to masks on every frame.")
    .version("0.1.0")
    .showHelpAfterError()
    // Before registering: subcommands copy these settings, so usage errors return instead of exiting.
    .exitOverride();
  if (args === undefined) {
    for (const command of await loadAll()) command.register(program);
    return program;
  }
  const entry = commandFor(args);
  if (entry) (await entry.load()).register(program);
  else registerSummaries(program);
  return program;
}

/**
 * Runs the CLI; returns the process exit code: 0 done, 2 usage or INVALID_ARGUMENT, 1 any other
 * failure (printed as one line `stillmotion: CODE: message`; STILLMOTION_DEBUG=1 adds the stack of
 * an unexpected one).
 */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    // Inside the try: a command module that fails to load (a missing native add-on) is one line too.
    const program = await buildProgram(argv.slice(2));
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
