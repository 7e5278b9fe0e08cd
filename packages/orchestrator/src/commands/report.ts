/** `stillmotion report <runDir...>`: the self-contained HTML report of a run (or a comparison). */
import type { Command } from "commander";
import { writeCompareReport, writeReport } from "../dashboard/report.js";
import { Code, StillMotionError } from "../errors.js";

export interface ReportOptions {
  out?: string;
}

/** Writes the report; returns its path. Several runs need `out` (a comparison has no run dir of its own). */
export async function report(runDirs: string[], options: ReportOptions = {}): Promise<string> {
  if (runDirs.length === 1) return writeReport(runDirs[0], { out: options.out });
  if (!options.out) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `--out: required with ${runDirs.length} run directories`,
    );
  }
  return writeCompareReport(runDirs, options.out);
}

export function register(program: Command): void {
  program
    .command("report <runDirs...>")
    .description("write a self-contained HTML report: curves, predicted frames, run info, eval sections")
    .option("-o, --out <file>", "output file (default <runDir>/report.html; required for several runs)")
    .addHelpText(
      "after",
      `
The file inlines its data, images and script: open it anywhere, no server or network needed.
\`train\` writes <runDir>/report.html by itself when a run ends.

Examples:
  $ stillmotion report runs/quickstart
  $ stillmotion report runs/a runs/b --out compare.html`,
    )
    .action(async (runDirs: string[], opts: ReportOptions) => {
      console.log(await report(runDirs, opts));
    });
}
