/** `stillmotion dashboard <runDir...>`: the live dashboard for existing run directories (tailed). */
import type { Command } from "commander";
import { readReportSections } from "../dashboard/report.js";
import { TailRunSource } from "../dashboard/run-source.js";
import { DEFAULT_PORT, startDashboard } from "../dashboard/server.js";
import { Code, StillMotionError } from "../errors.js";
import { isRunDir } from "../runs/run-summary.js";

export interface DashboardCommandOptions {
  port?: number;
  host?: string;
}

/** Serves the dashboard until SIGINT/SIGTERM; resolves when it has closed. */
export async function dashboard(runDirs: string[], options: DashboardCommandOptions = {}): Promise<void> {
  for (const dir of runDirs) {
    if (!isRunDir(dir)) {
      throw new StillMotionError(
        Code.NOT_FOUND,
        `${dir}: not a run directory (no config.json or metrics.jsonl)`,
      );
    }
  }
  const onError = (err: Error) => console.error(`stillmotion dashboard: ${err.message}`);
  const sources = runDirs.map((dir) => new TailRunSource(dir, { onError }));
  const server = await startDashboard({
    sources,
    port: options.port ?? DEFAULT_PORT,
    host: options.host,
    sections: () => (runDirs.length === 1 ? readReportSections(runDirs[0]) : []),
  });
  const what = runDirs.length === 1 ? runDirs[0] : `${runDirs.length} runs`;
  console.log(`dashboard for ${what}: ${server.url}  (Ctrl-C to stop)`);
  if (server.token !== undefined) {
    console.error(
      `listening on ${options.host}: open the URL above (its token is required; from another machine, put this machine's name in place of its host)`,
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  for (const source of sources) source.close();
  await server.close();
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new StillMotionError(Code.INVALID_ARGUMENT, `--port: must be an integer 0-65535, got "${value}"`);
  }
  return n;
}

export function register(program: Command): void {
  program
    .command("dashboard <runDirs...>")
    .description("live dashboard in the browser: loss curves, lr, throughput, predicted frames with masks")
    .option("-p, --port <n>", `port (0 = any free one; default ${DEFAULT_PORT})`, port)
    .option(
      "--host <addr>",
      "interface to listen on (default 127.0.0.1: this machine only; elsewhere a token is required)",
    )
    .addHelpText(
      "after",
      `
Follows metrics.jsonl and previews/ of each run directory, so it works on a running or finished
run. Several run directories overlay their curves (one colour per run).

Examples:
  $ stillmotion dashboard runs/quickstart
  $ stillmotion dashboard runs/lr1e-3 runs/lr3e-4 --port 8080
  $ stillmotion train -c run.yaml --dashboard        # live from the training itself`,
    )
    .action((runDirs: string[], opts: DashboardCommandOptions) => dashboard(runDirs, opts));
}
