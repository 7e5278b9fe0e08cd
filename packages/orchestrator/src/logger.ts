/**
 * The one logger of the orchestrator (pino). The console (stderr) gets one readable line per
 * record, colored on a terminal, so it reads like the CLI's other output; JSON lines only when
 * asked (`--json`, or STILLMOTION_LOG_FORMAT=json) and always in the log file (the run directory's
 * logs/orchestrator.log), which machines read.
 */
import pino, { type Logger, type TransportTargetOptions } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Also append JSON lines to this file. */
  file?: string;
  /** JSON lines on the console too (default: STILLMOTION_LOG_FORMAT=json). */
  json?: boolean;
  /** Colored console lines (default: when stderr is a terminal); ignored with `json`. */
  color?: boolean;
  /** Where console lines go: a file descriptor or a file path (default 2, stderr). */
  console?: number | string;
}

/** The console target: pino-pretty on one line (fields as trailing JSON), or raw JSON lines. */
function consoleTarget(options: LoggerOptions, level: string): TransportTargetOptions {
  const destination = options.console ?? 2;
  const json = options.json ?? process.env.STILLMOTION_LOG_FORMAT === "json";
  if (json) return { target: "pino/file", level, options: { destination } };
  return {
    target: "pino-pretty",
    level,
    options: {
      destination,
      colorize: options.color ?? Boolean(process.stderr.isTTY),
      singleLine: true,
      translateTime: "SYS:HH:MM:ss",
      ignore: "pid,hostname",
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.STILLMOTION_LOG_LEVEL ?? "info";
  const targets = [consoleTarget(options, level)];
  if (options.file)
    targets.push({ target: "pino/file", level, options: { destination: options.file, mkdir: true } });
  const transport = pino.transport({ targets });
  // A log the disk refuses (ENOSPC on the run's log file) must not kill the command with an
  // unhandled 'error' and a stack trace: the log copies what the console shows, and the
  // command's own failure, if any, still reaches the user as its one line.
  transport.on("error", (err: Error) => {
    process.stderr.write(`stillmotion: warning: log not written (${err.message})\n`);
  });
  return pino({ level }, transport);
}

/** A logger that discards everything (library use and tests). */
export const silentLogger: Logger = pino({ level: "silent" });
