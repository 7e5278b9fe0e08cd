/**
 * The `stillmotion` command line. Commands live in ./commands (one module each, imported only
 * when that command runs); this file only assembles them and maps errors to exit codes.
 */
import { Command, CommanderError } from "commander";
import { COMMANDS, commandFor, loadAll, registerSummaries } from "./commands/index.js";
import { asStillMotionError, Code, errorLine, StillMotionError } from "./errors.js";

/**
 * The program for `args` (the words after `stillmotion`): only the module of the command they
 * name is loaded; without a command (`--help`, a group, a typo) every command is listed by its
 * summary and nothing heavy loads. Without `args`, every command is registered in full.
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
  const program = new Command("stillmotion")
    .description("Still images to annotated video; sparse masks to masks on every frame.")
    .version("0.1.0")
    // Before registering: subcommands copy these settings, so usage errors return instead of
    // exiting, and commander prints none of its own error text (main prints the one line).
    .exitOverride()
    .configureOutput({ outputError: () => {} });
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
    if (err instanceof CommanderError) {
      // --help, --version: done. A group without its subcommand has had its help printed.
      if (err.exitCode === 0 || err.code === "commander.help") return err.exitCode === 0 ? 0 : 2;
      console.error(errorLine(usageError(err, argv.slice(2))));
      return 2;
    }
    // Every error, whichever package raised it, reaches the user as one line.
    const error = asStillMotionError(err);
    console.error(errorLine(error));
    // Not one of ours: a bug. The stack helps a report, but only when asked for.
    if (error.code === Code.INTERNAL && process.env.STILLMOTION_DEBUG) console.error(err);
    return error.code === Code.INVALID_ARGUMENT ? 2 : 1;
  }
}

/**
 * A commander usage error (unknown option, missing option or argument, bad choice) as our one
 * line: commander's own text is several lines (message, blank line, the whole help), which a
 * script reading stderr cannot tell from output. The line names the option and where the
 * command's options are listed.
 */
export function usageError(err: CommanderError, args: readonly string[]): StillMotionError {
  // "error: unknown option '--x'\n(Did you mean --y?)" -> "unknown option '--x' (Did you mean --y?)"
  const message = err.message
    .replace(/^error: /, "")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" ");
  const command = ["stillmotion", ...commandWords(args)].join(" ");
  return new StillMotionError(Code.INVALID_ARGUMENT, `${message} (see \`${command} --help\`)`, {
    reason: err.code.replace(/^commander\./, ""),
    cause: err,
  });
}

/** The longest command or group `args` start with (`runs shwo` -> runs), for the help pointer. */
function commandWords(args: readonly string[]): readonly string[] {
  const words = args[0] === "help" ? args.slice(1) : args;
  let longest: readonly string[] = [];
  for (const { path } of COMMANDS) {
    const shared = path.findIndex((word, i) => words[i] !== word);
    const prefix = shared === -1 ? path : path.slice(0, shared);
    if (prefix.length > longest.length) longest = prefix;
  }
  return longest;
}
