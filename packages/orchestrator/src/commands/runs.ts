/** `stillmotion runs list|show|compare`: what is in the run directories. */
import type { Command } from "commander";
import { fmt, formatTable, listRuns, type RunSummary, summarizeRun } from "../runs/run-summary.js";

function table(runs: RunSummary[]): string {
  const rows = [["run", "state", "step", "reason", "loss", "L_I", "L_M1", "L_M2", "best val"]];
  for (const r of runs) {
    rows.push([
      r.name,
      r.state,
      String(r.step),
      r.reason || "-",
      fmt(r.lastLoss.total),
      fmt(r.lastLoss.image),
      fmt(r.lastLoss.mask_first),
      fmt(r.lastLoss.mask_second),
      fmt(r.bestValLoss),
    ]);
  }
  return formatTable(rows);
}

export function register(program: Command): void {
  const runs = program.command("runs").description("list, show and compare run directories");
  runs
    .command("list")
    .description("every run under a folder, newest first")
    .option("--root <dir>", "folder holding run directories", "runs")
    .option("--json", "one JSON array")
    .addHelpText("after", "\nExample:\n  $ stillmotion runs list --root runs")
    .action((opts: { root: string; json?: boolean }) => {
      const found = listRuns(opts.root);
      console.log(
        opts.json ? JSON.stringify(found) : found.length ? table(found) : `no runs under ${opts.root}`,
      );
    });
  runs
    .command("show <runDir>")
    .description("one run: state, last losses, best validation loss, checkpoints")
    .option("--json", "one JSON object")
    .addHelpText("after", "\nExample:\n  $ stillmotion runs show runs/quickstart")
    .action((runDir: string, opts: { json?: boolean }) => {
      const s = summarizeRun(runDir);
      console.log(
        opts.json ? JSON.stringify(s) : `${table([s])}\ncheckpoints: ${s.checkpoints.join(", ") || "-"}`,
      );
    });
  runs
    .command("compare <runDirs...>")
    .description("several runs side by side")
    .option("--json", "one JSON array")
    .addHelpText("after", "\nExample:\n  $ stillmotion runs compare runs/a runs/b")
    .action((runDirs: string[], opts: { json?: boolean }) => {
      const all = runDirs.map(summarizeRun);
      console.log(opts.json ? JSON.stringify(all) : table(all));
    });
}
