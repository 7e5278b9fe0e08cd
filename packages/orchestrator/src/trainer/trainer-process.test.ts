/**
 * Integration: the real Python trainer, real gRPC, real ZeroMQ. No mocks.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { curveKeyPair } from "zeromq";
import { Code, StillMotionError } from "../errors.js";
import { TrainerRpc } from "./grpc-client.js";
import { pythonExecutable, trainerDir } from "./python.js";
import { newCurveClientKeys, TelemetrySubscriber, telemetryBeyondLoopback } from "./telemetry-subscriber.js";
import { TrainerProcess, wantsTelemetryCurve } from "./trainer-process.js";

/** Where Debian's libtcmalloc-minimal4 lives (npm run setup installs it). */
const TCMALLOC = ["x86_64", "aarch64"]
  .map((arch) => `/usr/lib/${arch}-linux-gnu/libtcmalloc_minimal.so.4`)
  .find((path) => existsSync(path));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

describe("trainer process", () => {
  it("serves Health over gRPC, publishes heartbeats over ZeroMQ, and exits cleanly on SIGTERM", async () => {
    const proc = await TrainerProcess.spawn({ heartbeatS: 0.1 });
    cleanup.push(() => proc.stop());
    expect(proc.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);

    const rpc = proc.rpc();
    cleanup.push(() => rpc.close());
    const health = await rpc.health();
    expect(health.pid).toBe(proc.pid);
    expect(health.telemetryEndpoint).toBe(proc.telemetryEndpoint);
    const version = await rpc.getVersion();
    expect(version.protocol).toBe("stillmotion.trainer.v1");
    // the trainer re-executes itself onto tcmalloc where installed (allocator.py), same pid
    expect(version.allocator).toBe(TCMALLOC ? "tcmalloc" : "system");

    const sub = proc.subscribe(["heartbeat"]);
    expect(proc.telemetryCurve).toBeUndefined(); // loopback telemetry stays plain
    cleanup.push(() => sub.close());
    const first = await sub.next("heartbeat");
    expect(first.event.heartbeat?.pid).toBe(proc.pid);
    expect(first.event.heartbeat?.uptimeS).toBeGreaterThan(0);
    expect(first.event.seq).toBe(0); // heartbeats repeat the last seq; an idle trainer has published none

    const exit = await proc.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(alive(proc.pid)).toBe(false);
  });

  it("leaves no orphan when its parent is killed with SIGKILL", async () => {
    const script = fileURLToPath(new URL("../../test/fixtures/spawn-and-hang.mjs", import.meta.url));
    const parent = spawn(process.execPath, [script, pythonExecutable(), trainerDir()], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    cleanup.push(() => parent.kill("SIGKILL"));
    const trainerPid = await new Promise<number>((resolve, reject) => {
      createInterface({ input: parent.stdout }).on("line", (line) => {
        const m = /^TRAINER_PID (\d+)$/.exec(line);
        if (m) resolve(Number(m[1]));
      });
      parent.once("exit", (code) => reject(new Error(`fixture exited early with ${code}`)));
    });
    expect(alive(trainerPid)).toBe(true);
    parent.kill("SIGKILL");
    expect(await waitUntil(() => !alive(trainerPid), 5_000)).toBe(true);
  });
});

describe("who may steer and who may listen", () => {
  it("gives every trainer its own token, in its environment only; the port alone is UNAUTHENTICATED", async () => {
    const [a, b] = await Promise.all([TrainerProcess.spawn(), TrainerProcess.spawn()]);
    cleanup.push(
      () => a.stop(),
      () => b.stop(),
    );
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a.token).not.toBe(b.token);
    expect(readFileSync(`/proc/${a.pid}/cmdline`, "utf8")).not.toContain(a.token);

    const portOnly = new TrainerRpc(a.grpcAddress);
    const otherToken = new TrainerRpc(a.grpcAddress, { token: b.token });
    cleanup.push(
      () => portOnly.close(),
      () => otherToken.close(),
    );
    for (const rpc of [portOnly, otherToken]) {
      const err = await rpc.health().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StillMotionError);
      expect((err as StillMotionError).code).toBe(Code.UNAUTHENTICATED);
      expect((err as StillMotionError).message).toBe(
        `trainer ${a.grpcAddress}: missing or wrong bearer token (a run's token is in its orchestrator.json, readable only by the user who started the run)`,
      );
    }
    const rpc = a.rpc();
    cleanup.push(() => rpc.close());
    expect((await rpc.health()).pid).toBe(a.pid);
  });

  it("telemetry beyond loopback is CURVE: only our subscriber hears it; a wrong server key, a stranger's key or a plain socket hear nothing", async () => {
    const proc = await TrainerProcess.spawn({ telemetryEndpoint: "tcp://0.0.0.0:0", heartbeatS: 0.1 });
    cleanup.push(() => proc.stop());
    expect(proc.grpcAddress).toMatch(/^127\.0\.0\.1:/); // gRPC stays on loopback
    const keys = proc.telemetryCurve;
    expect(keys?.serverKey).toHaveLength(40);

    const ours = proc.subscribe(["heartbeat"]);
    cleanup.push(() => ours.close());
    expect((await ours.next("heartbeat")).event.heartbeat?.pid).toBe(proc.pid);

    if (!keys) return;
    const strangers = {
      "wrong server key": { ...keys, serverKey: curveKeyPair().publicKey },
      "unknown client key": { ...curveKeyPair(), serverKey: keys.serverKey },
      "plain socket": undefined,
    };
    for (const [why, curve] of Object.entries(strangers)) {
      const sub = new TelemetrySubscriber(proc.telemetryEndpoint, ["heartbeat"], { curve });
      cleanup.push(() => sub.close());
      // Heartbeats come every 100 ms: 2 s of silence means the handshake was refused.
      await expect(sub.next("heartbeat", 2_000), why).rejects.toThrow(/no "heartbeat" telemetry/);
    }
  });

  it("makes loopback telemetry CURVE too when asked (a machine shared with untrusted users)", async () => {
    const proc = await TrainerProcess.spawn({ telemetryCurve: true, heartbeatS: 0.1 });
    cleanup.push(() => proc.stop());
    expect(proc.telemetryEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:/);
    const ours = proc.subscribe(["heartbeat"]);
    const plain = new TelemetrySubscriber(proc.telemetryEndpoint, ["heartbeat"]);
    cleanup.push(
      () => ours.close(),
      () => plain.close(),
    );
    expect((await ours.next("heartbeat")).event.heartbeat?.pid).toBe(proc.pid);
    await expect(plain.next("heartbeat", 2_000)).rejects.toThrow(/no "heartbeat" telemetry/);
  });

  it("refuses CURVE telemetry on a zeromq build without CURVE, saying so", () => {
    expect(newCurveClientKeys(true).publicKey).toHaveLength(40);
    let err: unknown;
    try {
      newCurveClientKeys(false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StillMotionError);
    expect((err as StillMotionError).code).toBe(Code.FAILED_PRECONDITION);
    expect((err as StillMotionError).message).toBe(
      "telemetry beyond loopback needs ZeroMQ CURVE, but this zeromq build lacks it (zeromq capability.curve is false): bind telemetry to 127.0.0.1, or reinstall zeromq with libsodium",
    );
  });

  it("knows which telemetry endpoints are beyond loopback, and when CURVE is wanted", () => {
    const beyond = ["tcp://0.0.0.0:0", "tcp://*:5555", "tcp://10.0.0.7:5555", "tcp://127.evil.com:1"];
    const local = ["tcp://127.0.0.1:0", "tcp://localhost:5555", "tcp://[::1]:5555", "ipc:///tmp/t.sock"];
    for (const e of beyond) expect(telemetryBeyondLoopback(e), e).toBe(true);
    for (const e of local) expect(telemetryBeyondLoopback(e), e).toBe(false);
    expect(wantsTelemetryCurve({})).toBe(process.env.STILLMOTION_TELEMETRY_CURVE === "1");
    expect(wantsTelemetryCurve({ telemetryEndpoint: "tcp://0.0.0.0:0" })).toBe(true);
    expect(wantsTelemetryCurve({ telemetryEndpoint: "tcp://0.0.0.0:0", telemetryCurve: false })).toBe(true);
    expect(wantsTelemetryCurve({ telemetryCurve: true })).toBe(true);
  });
});
