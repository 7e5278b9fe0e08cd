/**
 * The bridge with real processes and sockets: kill -9 and restart, a slow subscriber, an invalid
 * config, a wrong token, a client that knows only the port. No mocks.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeSyntheticDataset, runCli, tempDir, tinyConfig } from "../../test/helpers.js";
import { Code, StillMotionError } from "../errors.js";
import { TrainerRpc } from "../trainer/grpc-client.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { TrainerProcess } from "../trainer/trainer-process.js";
import { readMetrics, type TrainerEndpoint } from "./run-record.js";
import { superviseRun } from "./supervisor.js";

let root: string;
let dataset: string;
beforeAll(() => {
  root = tempDir("bridge");
  dataset = makeSyntheticDataset(root);
});
afterAll(() => {
  // run dirs stay in the OS temp folder for post-mortems; they are small
});

function trainSteps(runDir: string): number[] {
  return readMetrics(runDir)
    .filter((m) => (m.kind ?? "train") === "train")
    .map((m) => m.step);
}

/** The last train step in the run's durable metrics.jsonl (0 before the first). */
function lastLoggedStep(runDir: string): number {
  return Math.max(0, ...trainSteps(runDir));
}

describe("superviseRun", () => {
  it("survives kill -9 of the trainer mid-run: restarts from the checkpoint, no lost or duplicated step", async () => {
    const runDir = join(root, "killed");
    let killedAt = 0;
    let trainer: TrainerProcess | undefined;
    const outcome = await superviseRun({
      config: tinyConfig(dataset, 24) as never,
      runDir,
      restartOnFailure: 1,
      onTrainer: (t) => {
        trainer = t;
      },
      onEvent: (event, attempt) => {
        if (attempt === 0 && event.step && Number(event.step.step) === 13 && trainer) {
          killedAt = 13;
          process.kill(trainer.pid, "SIGKILL");
        }
      },
    });
    expect(killedAt).toBe(13);
    expect(outcome.attempts).toBe(2);
    expect(outcome.failures[0]).toMatch(/signal SIGKILL/);
    expect(outcome.reason).toBe("max_steps");
    expect(outcome.step).toBe(24);
    const steps = trainSteps(runDir);
    expect(steps).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it("back-fills what a slow subscriber missed: every sequenced event exactly once, in order", async () => {
    const runDir = join(root, "slow");
    const maxSteps = 30;
    const seqs: number[] = [];
    let blocked = false;
    const outcome = await superviseRun({
      // previews every step: binary frames that overflow the shrunken socket buffers
      config: tinyConfig(dataset, maxSteps, {
        log: { every_n_steps: 1, preview_every_n_steps: 1 },
      }) as never,
      runDir,
      // tiny high-water marks and kernel buffers on both ends, so ZeroMQ must drop
      trainerEnv: { STILLMOTION_TELEMETRY_HWM: "1", STILLMOTION_TELEMETRY_SNDBUF: "4096" },
      telemetryReceiveHwm: 1,
      telemetryReceiveBufferSize: 4096,
      onEvent: (event: TelemetryEvent) => {
        if (event.heartbeat) return;
        seqs.push(event.seq);
        if (event.step && !blocked) {
          blocked = true;
          // A subscriber stuck until the trainer has finished (its durable log says so): the
          // event loop cannot read the socket meanwhile, so everything after this is dropped
          // or back-filled. Atomics.wait blocks without burning a core (a busy loop would
          // starve the trainer's OpenMP threads on a 2-core machine). Bounded, so a broken
          // trainer fails the test instead of hanging it.
          const sleeper = new Int32Array(new SharedArrayBuffer(4));
          const until = Date.now() + 30_000;
          while (Date.now() < until && lastLoggedStep(runDir) < maxSteps) Atomics.wait(sleeper, 0, 0, 50);
        }
      },
    });
    expect(outcome.reason).toBe("max_steps");
    expect(outcome.stats.backfilled).toBeGreaterThan(0);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(trainSteps(runDir)).toEqual(Array.from({ length: maxSteps }, (_, i) => i + 1));
  });

  it("stops gracefully on the first interrupt: the step finishes, then a checkpoint at that step", async () => {
    const runDir = join(root, "stopped");
    const stop = new AbortController();
    const outcome = await superviseRun({
      // no periodic checkpoint before step 1000: the one found afterwards is the stop's own
      config: tinyConfig(dataset, 1000, { checkpoint: { every_n_steps: 1000, keep_last: 2 } }) as never,
      runDir,
      stopSignal: stop.signal,
      onEvent: (event) => {
        if (event.step && Number(event.step.step) === 5) stop.abort(); // what Ctrl-C does
      },
    });
    expect(outcome.reason).toBe("stop_requested");
    expect(outcome.step).toBeGreaterThanOrEqual(5);
    expect(outcome.step).toBeLessThan(1000);
    const steps = trainSteps(runDir);
    expect(steps).toEqual(Array.from({ length: outcome.step }, (_, i) => i + 1));
    const checkpoint = `step-${String(outcome.step).padStart(8, "0")}.pt`;
    expect(readdirSync(join(runDir, "checkpoints"))).toContain(checkpoint);
  });

  it("a second interrupt kills the trainer at once: CANCELLED, and no process is left", async () => {
    const stop = new AbortController();
    const kill = new AbortController();
    let pid = 0;
    const err = await superviseRun({
      config: tinyConfig(dataset, 100_000) as never,
      runDir: join(root, "killed-on-request"),
      stopSignal: stop.signal,
      killSignal: kill.signal,
      onTrainer: (t) => {
        pid = t.pid;
      },
      onEvent: (event) => {
        if (event.step && Number(event.step.step) === 3) {
          stop.abort();
          kill.abort(); // Ctrl-C twice, before the graceful stop could finish
        }
      },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(StillMotionError);
    expect((err as StillMotionError).code).toBe(Code.CANCELLED);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow(); // ESRCH: the trainer is gone
  });

  it("rejects an invalid config with INVALID_ARGUMENT naming the field", async () => {
    const config = tinyConfig(dataset, 5, { train: { lr: -1 } });
    const err = await superviseRun({ config: config as never, runDir: join(root, "invalid") }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(StillMotionError);
    // the trainer's StartRun refuses it; the attempt reports the gRPC code and the field
    expect((err as StillMotionError).code).toBe(Code.INVALID_ARGUMENT);
    expect(String(err.message)).toMatch(/train\.lr/);
  });
});

describe("trainer security", () => {
  it("requires the token when one is set: none or a wrong one is UNAUTHENTICATED", async () => {
    const proc = await TrainerProcess.spawn({ token: "correct-horse" });
    try {
      for (const token of [undefined, "wrong"]) {
        const rpc = new TrainerRpc(proc.grpcAddress, { token });
        const err = await rpc.health().catch((e) => e);
        rpc.close();
        expect(err).toBeInstanceOf(StillMotionError);
        expect((err as StillMotionError).code).toBe(Code.UNAUTHENTICATED);
      }
      const rpc = new TrainerRpc(proc.grpcAddress, { token: "correct-horse" });
      expect((await rpc.health()).pid).toBe(proc.pid);
      rpc.close();
    } finally {
      await proc.stop();
    }
  });

  it("a run's token is in its 0600 orchestrator.json; a client with only the port cannot stop, export or list (one CLI line); `stop` with the record works", async () => {
    const runDir = join(root, "token");
    const staleDir = join(root, "token-stale");
    const stop = new AbortController(); // the run's end if a check below fails first
    const seen: Record<string, unknown> = {};
    let probe: Promise<void> = Promise.resolve();
    const saved = process.env.STILLMOTION_TOKEN;
    delete process.env.STILLMOTION_TOKEN; // `stop` must find the token in the record, not here

    const check = async () => {
      try {
        const path = join(runDir, "orchestrator.json");
        seen.mode = statSync(path).mode & 0o777;
        const endpoint = JSON.parse(readFileSync(path, "utf8")) as TrainerEndpoint;
        seen.token = endpoint.token;
        const portOnly = new TrainerRpc(endpoint.grpcAddress);
        const refused = await Promise.all([
          portOnly.stopRun(endpoint.runId).catch((e: StillMotionError) => e.code),
          portOnly.exportOnnx({ outPath: "/tmp/anywhere.onnx" }).catch((e: StillMotionError) => e.code),
          portOnly.listCheckpoints(endpoint.runId).catch((e: StillMotionError) => e.code),
        ]);
        portOnly.close();
        seen.refused = refused;
        // A stale CLI's record: the address without the token.
        mkdirSync(staleDir, { recursive: true });
        writeFileSync(join(staleDir, "orchestrator.json"), JSON.stringify({ ...endpoint, token: undefined }));
        seen.stale = await runCli("stop", staleDir);
        seen.stop = await runCli("stop", runDir);
      } finally {
        stop.abort();
      }
    };
    try {
      const outcome = await superviseRun({
        config: tinyConfig(dataset, 10_000) as never,
        runDir,
        stopSignal: stop.signal,
        onStarted: () => {
          probe = check();
        },
      });
      await probe;
      expect(seen.mode).toBe(0o600);
      expect(seen.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(seen.refused).toEqual([Code.UNAUTHENTICATED, Code.UNAUTHENTICATED, Code.UNAUTHENTICATED]);
      const stale = seen.stale as { code: number; err: string };
      expect(stale.code).toBe(1);
      expect(stale.err.split("\n")).toHaveLength(1);
      expect(stale.err).toMatch(
        /^stillmotion: UNAUTHENTICATED: trainer 127\.0\.0\.1:\d+: missing or wrong bearer token \(a run's token is in its orchestrator\.json, readable only by the user who started the run\)$/,
      );
      expect(seen.stop).toMatchObject({ code: 0, out: "stop requested over gRPC" });
      expect(outcome.reason).toBe("stop_requested");
    } finally {
      if (saved !== undefined) process.env.STILLMOTION_TOKEN = saved;
    }
  });
});
