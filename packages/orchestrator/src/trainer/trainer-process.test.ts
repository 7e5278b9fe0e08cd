/**
 * Integration: the real Python trainer, real gRPC, real ZeroMQ. No mocks.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { TrainerRpc } from "./grpc-client.js";
import { pythonExecutable, trainerDir } from "./python.js";
import { TelemetrySubscriber } from "./telemetry-subscriber.js";
import { TrainerProcess } from "./trainer-process.js";

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

    const rpc = new TrainerRpc(proc.grpcAddress);
    cleanup.push(() => rpc.close());
    const health = await rpc.health();
    expect(health.pid).toBe(proc.pid);
    expect(health.telemetryEndpoint).toBe(proc.telemetryEndpoint);
    const version = await rpc.getVersion();
    expect(version.protocol).toBe("stillmotion.trainer.v1");

    const sub = new TelemetrySubscriber(proc.telemetryEndpoint, ["heartbeat"]);
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
