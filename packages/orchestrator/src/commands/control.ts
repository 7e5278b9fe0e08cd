/**
 * `stillmotion stop|status|resume <runDir>`: act on a run from another terminal. A live run is
 * reached over gRPC at the address its supervisor recorded in orchestrator.json; a run whose
 * trainer is gone is read from its directory (stop then leaves a STOP file the loop honours).
 */
import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { readJson, runFiles, type TrainerEndpoint } from "../runs/run-record.js";
import { summarizeRun } from "../runs/run-summary.js";
import { TrainerRpc } from "../trainer/grpc-client.js";
import { train } from "./train.js";

async function liveRpc(runDir: string): Promise<{ rpc: TrainerRpc; endpoint: TrainerEndpoint } | undefined> {
  const endpoint = readJson<TrainerEndpoint>(runFiles.endpoint(runDir));
  if (!endpoint) return undefined;
  // The run's own token (orchestrator.json is mode 0600); STILLMOTION_TOKEN for older records.
  const rpc = new TrainerRpc(endpoint.grpcAddress, {
    timeoutMs: 3_000,
    token: endpoint.token ?? process.env.STILLMOTION_TOKEN,
  });
  try {
    await rpc.waitForReady(2_000);
    return { rpc, endpoint };
  } catch {
    rpc.close();
    return undefined;
  }
}

export async function stopRun(runDir: string): Promise<string> {
  const live = await liveRpc(runDir);
  if (live) {
    try {
      const res = await live.rpc.stopRun(live.endpoint.runId);
      return res.accepted ? "stop requested over gRPC" : "the run had already ended";
    } finally {
      live.rpc.close();
    }
  }
  writeFileSync(runFiles.stop(runDir), `${new Date().toISOString()}\n`);
  return `no live trainer answered; wrote ${runFiles.stop(runDir)} (the loop stops at its next step)`;
}

export async function runStatus(runDir: string): Promise<Record<string, unknown>> {
  const live = await liveRpc(runDir);
  if (live) {
    try {
      const s = await live.rpc.getStatus(live.endpoint.runId);
      return { live: true, ...s };
    } finally {
      live.rpc.close();
    }
  }
  return { live: false, ...summarizeRun(runDir) };
}

export function register(program: Command): void {
  program
    .command("stop <runDir>")
    .description("ask a run to stop gracefully (finish the step, checkpoint)")
    .addHelpText("after", "\nExample:\n  $ stillmotion stop runs/quickstart")
    .action(async (runDir: string) => console.log(await stopRun(runDir)));
  program
    .command("status <runDir>")
    .description("where a run is: live over gRPC, else from its directory")
    .option("--json", "one JSON object")
    .addHelpText("after", "\nExample:\n  $ stillmotion status runs/quickstart --json")
    .action(async (runDir: string, opts: { json?: boolean }) => {
      const s = await runStatus(runDir);
      console.log(
        opts.json
          ? JSON.stringify(s)
          : Object.entries(s)
              .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
              .join("\n"),
      );
    });
  program
    .command("resume <runDir>")
    .description("continue a run from its latest checkpoint, with its frozen config")
    .option("--restart-on-failure <n>", "restart a dead trainer up to n times", Number)
    .addHelpText("after", "\nExample:\n  $ stillmotion resume runs/quickstart --restart-on-failure 2")
    .action(async (runDir: string, opts: { restartOnFailure?: number }) => {
      const outcome = await train({
        config: runFiles.config(runDir),
        runDir,
        resume: true,
        restartOnFailure: opts.restartOnFailure,
      });
      console.log(`run ${outcome.runId} ended (${outcome.reason}) at step ${outcome.step}`);
    });
}
