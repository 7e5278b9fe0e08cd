/**
 * The one logger of the orchestrator (pino): pretty on a TTY, JSON lines otherwise, and
 * optionally a JSON file beside (the run directory's log).
 */
import pino, { type Logger, type TransportTargetOptions } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Also append JSON lines to this file. */
  file?: string;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a TTY. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.STILLMOTION_LOG_LEVEL ?? "info";
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const targets: TransportTargetOptions[] = [
    pretty
      ? { target: "pino-pretty", level, options: { destination: 2, colorize: true, ignore: "pid,hostname" } }
      : { target: "pino/file", level, options: { destination: 2 } },
  ];
  if (options.file)
    targets.push({ target: "pino/file", level, options: { destination: options.file, mkdir: true } });
  return pino({ level }, pino.transport({ targets }));
}

/** A logger that discards everything (library use and tests). */
export const silentLogger: Logger = pino({ level: "silent" });
