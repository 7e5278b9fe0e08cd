/**
 * Drives one training run end to end: spawn the trainer, StartRun over gRPC, follow its
 * ZeroMQ telemetry exactly once and in order (gaps back-filled from StreamEvents), watch
 * heartbeats, stop gracefully on request, and — with `restartOnFailure` — restart a dead
 * trainer from its last checkpoint. The trainer never outlives the supervisor.
 */

import type { RunConfig } from "../config/run-config.js";
import { Code, codeFromName, StillMotionError } from "../errors.js";
import { type Logger, silentLogger } from "../logger.js";
import type { GetVersionResponse } from "../trainer/grpc-client.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { TrainerProcess } from "../trainer/trainer-process.js";
import { PRIVATE_FILE_MODE, runFiles, type TrainerEndpoint, writeJsonAtomic } from "./run-record.js";
import { SequencedEvents, type SequenceStats } from "./sequenced-events.js";

export interface SuperviseOptions {
  config: RunConfig;
  runDir: string;
  /** Continue the run directory's latest checkpoint (a fresh run refuses a used directory). */
  resume?: boolean;
  /** Restart a trainer that died, from its last checkpoint, up to this many times. */
  restartOnFailure?: number;
  /** Declare the trainer dead after this long without a heartbeat (default 60 s). */
  heartbeatTimeoutMs?: number;
  /** Abort = graceful stop (finish the step, checkpoint). */
  stopSignal?: AbortSignal;
  /** Abort = kill the trainer now. */
  killSignal?: AbortSignal;
  /** Every event, in order, exactly once per trainer process (attempt). */
  onEvent?: (event: TelemetryEvent, attempt: number) => void;
  logger?: Logger;
  /** The trainer's bearer token (default: a fresh random one per trainer process). */
  token?: string;
  /** Extra environment for the trainer process. */
  trainerEnv?: NodeJS.ProcessEnv;
  /** Receive high-water mark of the telemetry subscriber (tests use a tiny one). */
  telemetryReceiveHwm?: number;
  /** Kernel receive buffer of the telemetry socket in bytes (tests shrink it to force drops). */
  telemetryReceiveBufferSize?: number;
  /** Called once per attempt when the run has started, with the trainer's versions and device. */
  onStarted?: (info: { runId: string; attempt: number; version: GetVersionResponse }) => void;
  /** Called once per attempt with the live trainer (tests use it to kill it). */
  onTrainer?: (trainer: TrainerProcess, attempt: number) => void;
}

export interface RunOutcome {
  runDir: string;
  runId: string;
  reason: string;
  step: number;
  attempts: number;
  failures: string[];
  stats: SequenceStats;
}

/**
 * End reasons of a run that stopped as asked (the trainer's stop_conditions.REASONS): the CLI
 * exits 0 for these only. Anything else ("failed", an older trainer's "error", a reason this
 * orchestrator does not know) is a failure.
 */
export const STOP_REASONS: ReadonlySet<string> = new Set([
  "signal",
  "stop_requested",
  "stop_file",
  "max_steps",
  "max_epochs",
  "time_budget",
  "target_loss",
  "early_stopping",
  "collapse",
]);

/**
 * The error of a run that did not stop as asked. The trainer's failure text starts with one line
 * `CODE: message naming the file` (stillmotion_trainer.errors.describe_error); its traceback
 * follows and goes to the log, not the user.
 */
export function runFailure(reason: string, step: number, error: string, log: Logger): StillMotionError {
  const [first = "", ...trace] = error.split("\n");
  if (trace.length) log.debug({ reason, step, trace: trace.join("\n") }, "trainer failure");
  const [, name = "", message = ""] = /^([A-Z_]+): (.*)$/.exec(first) ?? [];
  const code = codeFromName(name);
  if (code !== undefined) return new StillMotionError(code, `run failed at step ${step}: ${message}`);
  // An older trainer, or a failure outside the loop: keep its text, call it ABORTED.
  const what = first || `the trainer ended the run with reason "${reason}"`;
  return new StillMotionError(Code.ABORTED, `run failed at step ${step}: ${what}`);
}

type AttemptResult =
  | { kind: "ended"; runId: string; reason: string; step: number; error: string }
  | { kind: "died"; why: string }
  | { kind: "killed" };

export async function superviseRun(options: SuperviseOptions): Promise<RunOutcome> {
  const log = options.logger ?? silentLogger;
  const failures: string[] = [];
  const stats: SequenceStats = { delivered: 0, backfilled: 0, duplicatesDropped: 0, gaps: 0 };
  const maxRestarts = options.restartOnFailure ?? 0;
  for (let attempt = 0; ; attempt++) {
    const result = await runAttempt(options, attempt, Boolean(options.resume) || attempt > 0, stats, log);
    if (result.kind === "ended") {
      if (!STOP_REASONS.has(result.reason)) throw runFailure(result.reason, result.step, result.error, log);
      return { ...result, runDir: options.runDir, attempts: attempt + 1, failures, stats };
    }
    if (result.kind === "killed") {
      throw new StillMotionError(Code.CANCELLED, "run killed on request (second interrupt)");
    }
    failures.push(result.why);
    if (attempt >= maxRestarts) {
      throw new StillMotionError(
        Code.UNAVAILABLE,
        `trainer died: ${result.why}${maxRestarts ? ` (after ${attempt} restarts)` : ""}`,
      );
    }
    log.warn({ why: result.why, attempt: attempt + 1 }, "trainer died; restarting from the last checkpoint");
  }
}

async function runAttempt(
  options: SuperviseOptions,
  attempt: number,
  resume: boolean,
  stats: SequenceStats,
  log: Logger,
): Promise<AttemptResult> {
  const proc = await TrainerProcess.spawn({
    env: options.trainerEnv,
    token: options.token,
    onStderr: (line) => log.debug({ trainer: line }),
  });
  options.onTrainer?.(proc, attempt);
  const rpc = proc.rpc();
  const sub = proc.subscribe([], {
    receiveHwm: options.telemetryReceiveHwm,
    receiveBufferSize: options.telemetryReceiveBufferSize,
  });
  const cleanup: Array<() => void> = [];
  let ended: AttemptResult | undefined;
  let lastBeat = Date.now();

  const sequenced = new SequencedEvents(
    (from) => rpc.streamEvents(from),
    (event) => {
      if (event.runEnded) {
        ended = {
          kind: "ended",
          runId: event.runId,
          reason: event.runEnded.reason,
          step: event.runEnded.step,
          error: event.runEnded.error,
        };
      }
      options.onEvent?.(event, attempt);
    },
  );

  try {
    const started = await rpc.startRun({
      configJson: JSON.stringify(options.config),
      runDir: options.runDir,
      resume,
    });
    const endpoint: TrainerEndpoint = {
      pid: proc.pid,
      orchestratorPid: process.pid,
      grpcAddress: proc.grpcAddress,
      token: proc.token,
      telemetryEndpoint: proc.telemetryEndpoint,
      runId: started.runId,
      attempt,
      startedAt: new Date().toISOString(),
    };
    // The token lets its holder stop or export the run: owner-only, from the first byte on disk.
    writeJsonAtomic(runFiles.endpoint(options.runDir), endpoint, { mode: PRIVATE_FILE_MODE });
    log.info({ runId: started.runId, runDir: started.runDir, attempt, resume }, "run started");
    options.onStarted?.({ runId: started.runId, attempt, version: await rpc.getVersion() });

    const follow = (async (): Promise<AttemptResult> => {
      for await (const message of sub) {
        lastBeat = Date.now();
        const event = message.event;
        if (event.preview && message.payloads.length >= 2 && event.preview.images.length === 0) {
          event.preview.images = message.payloads[0];
          event.preview.masks = message.payloads[1];
        }
        await sequenced.accept(event);
        // A heartbeat carries the last seq: catch up on a tail that ZeroMQ dropped.
        if (event.heartbeat && event.seq > sequenced.lastDeliveredSeq) await sequenced.fill(event.seq + 1);
        if (ended) return ended;
      }
      return { kind: "died", why: "telemetry closed" };
    })();
    // When another branch of the race wins, closing the socket ends this loop with an error.
    follow.catch(() => undefined);

    const died = proc.exited().then(({ code, signal }): AttemptResult => {
      const tail = proc.stderrLines().slice(-8).join("\n    ");
      return { kind: "died", why: `exit code ${code}, signal ${signal}${tail ? `\n    ${tail}` : ""}` };
    });

    const watchdog = new Promise<AttemptResult>((resolve) => {
      const timeout = options.heartbeatTimeoutMs ?? 60_000;
      const timer = setInterval(() => {
        if (Date.now() - lastBeat > timeout) {
          resolve({ kind: "died", why: `no heartbeat for ${Math.round(timeout / 1000)} s` });
        }
      }, 250);
      cleanup.push(() => clearInterval(timer));
    });

    const killed = new Promise<AttemptResult>((resolve) => {
      const onKill = () => resolve({ kind: "killed" });
      if (options.killSignal?.aborted) onKill();
      options.killSignal?.addEventListener("abort", onKill, { once: true });
      cleanup.push(() => options.killSignal?.removeEventListener("abort", onKill));
    });

    const onStop = () => {
      log.info("stopping gracefully: finishing the step and writing a checkpoint");
      rpc.stopRun(started.runId).catch((err) => log.warn({ err }, "StopRun failed"));
    };
    if (options.stopSignal?.aborted) onStop();
    options.stopSignal?.addEventListener("abort", onStop, { once: true });
    cleanup.push(() => options.stopSignal?.removeEventListener("abort", onStop));

    const result = await Promise.race([follow, died, watchdog, killed]);
    if (result.kind === "ended") await proc.stop();
    return result;
  } catch (err) {
    if (proc.isRunning()) throw err;
    const { code, signal } = await proc.exited();
    return { kind: "died", why: `exit code ${code}, signal ${signal}: ${(err as Error).message}` };
  } finally {
    for (const fn of cleanup) fn();
    Object.assign(stats, {
      delivered: stats.delivered + sequenced.stats.delivered,
      backfilled: stats.backfilled + sequenced.stats.backfilled,
      duplicatesDropped: stats.duplicatesDropped + sequenced.stats.duplicatesDropped,
      gaps: stats.gaps + sequenced.stats.gaps,
    });
    sub.close();
    rpc.close();
    if (proc.isRunning()) proc.kill();
    await proc.exited();
  }
}
