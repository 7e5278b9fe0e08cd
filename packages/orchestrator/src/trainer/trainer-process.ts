/**
 * Spawns `python -m stillmotion_trainer serve`, waits for its "listening" line, and guarantees it
 * never outlives us: SIGTERM on stop(), SIGKILL after a grace period, and a kill on our own exit.
 * (The trainer also watches its parent and exits when we die, even by SIGKILL.)
 *
 * Every trainer gets its own random token (STILLMOTION_TOKEN, through the environment: argv is
 * world-readable in /proc, a process's environment only its owner's). Its gRPC server refuses
 * any call without it, so another local user, or a stale CLI that knows only the port, cannot
 * stop the run or export from it. Telemetry beyond loopback (or with STILLMOTION_TELEMETRY_CURVE=1)
 * is ZeroMQ CURVE with a client key pair made here. `rpc()` and `subscribe()` carry both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { newToken } from "../dashboard/access.js";
import { Code, StillMotionError } from "../errors.js";
import { TrainerRpc, type TrainerRpcOptions } from "./grpc-client.js";
import { pythonExecutable, trainerDir, trainerEnv } from "./python.js";
import {
  type CurveKeys,
  newCurveClientKeys,
  type SubscriberOptions,
  TelemetrySubscriber,
  telemetryBeyondLoopback,
} from "./telemetry-subscriber.js";

export interface ListeningLine {
  event: "listening";
  grpc_port: number;
  grpc_address: string;
  telemetry_endpoint: string;
  /** The trainer's CURVE public key when its telemetry is CURVE, else null. */
  telemetry_server_key?: string | null;
  pid: number;
}

export interface SpawnTrainerOptions {
  /** gRPC bind address; port 0 lets the trainer choose. */
  address?: string;
  telemetryEndpoint?: string;
  /**
   * Telemetry over ZeroMQ CURVE on loopback too (a shared machine whose other users must not read
   * the previews); also STILLMOTION_TELEMETRY_CURVE=1. Beyond loopback it is CURVE regardless.
   */
  telemetryCurve?: boolean;
  heartbeatS?: number;
  /** How long to wait for the listening line (default 60 s: torch imports are slow). */
  startTimeoutMs?: number;
  /** Extra environment variables for the trainer. */
  env?: NodeJS.ProcessEnv;
  /**
   * Bearer token the trainer will require (passed via STILLMOTION_TOKEN, never argv). Default: a
   * fresh random one for this trainer; there is no way to spawn one without a token.
   */
  token?: string;
  /** Receives every stderr line of the trainer. */
  onStderr?: (line: string) => void;
}

/** Whether a trainer's telemetry is CURVE: always beyond loopback, on loopback when asked. */
export function wantsTelemetryCurve(options: SpawnTrainerOptions): boolean {
  if (telemetryBeyondLoopback(options.telemetryEndpoint ?? "tcp://127.0.0.1:0")) return true;
  return options.telemetryCurve ?? process.env.STILLMOTION_TELEMETRY_CURVE === "1";
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class TrainerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly listening: ListeningLine,
    /** The bearer token this trainer requires on every gRPC call. */
    readonly token: string,
    /** Our CURVE keys and the trainer's, when its telemetry is CURVE. */
    readonly telemetryCurve: CurveKeys | undefined,
    private readonly exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
    private readonly stderrTail: string[],
  ) {}

  /** The last (up to 200) lines the trainer wrote to stderr. */
  stderrLines(): string[] {
    return [...this.stderrTail];
  }

  isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, no questions asked. */
  kill(): void {
    if (this.isRunning()) this.child.kill("SIGKILL");
  }

  get pid(): number {
    return this.listening.pid;
  }

  get grpcAddress(): string {
    return this.listening.grpc_address;
  }

  get telemetryEndpoint(): string {
    return this.listening.telemetry_endpoint;
  }

  /** A gRPC client for this trainer, carrying its token. */
  rpc(options: Omit<TrainerRpcOptions, "token"> = {}): TrainerRpc {
    return new TrainerRpc(this.grpcAddress, { ...options, token: this.token });
  }

  /** A telemetry subscriber for this trainer, a CURVE client when its telemetry is CURVE. */
  subscribe(topics: string[] = [], options: Omit<SubscriberOptions, "curve"> = {}): TelemetrySubscriber {
    return new TelemetrySubscriber(this.telemetryEndpoint, topics, {
      ...options,
      curve: this.telemetryCurve,
    });
  }

  static async spawn(options: SpawnTrainerOptions = {}): Promise<TrainerProcess> {
    const args = ["-m", "stillmotion_trainer", "serve", "--address", options.address ?? "127.0.0.1:0"];
    if (options.telemetryEndpoint) args.push("--telemetry", options.telemetryEndpoint);
    if (options.heartbeatS !== undefined) args.push("--heartbeat-s", String(options.heartbeatS));
    const token = options.token || newToken();
    // Made before the process starts: a zeromq build without CURVE fails here, clearly.
    const curveClient = wantsTelemetryCurve(options) ? newCurveClientKeys() : undefined;
    const child = spawn(pythonExecutable(), args, {
      cwd: trainerDir(),
      env: trainerEnv({
        ...options.env,
        STILLMOTION_TOKEN: token,
        STILLMOTION_TELEMETRY_CLIENT_KEY: curveClient?.publicKey, // undefined: not passed at all
      }),
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: a terminal's Ctrl-C reaches only the orchestrator, which decides
      // (graceful stop first, kill on the second). The trainer still dies with us (PDEATHSIG).
      detached: true,
    });
    live.add(child);
    const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
      }),
    );
    const stderrTail: string[] = [];
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 200) stderrTail.shift();
      options.onStderr?.(line);
    });

    const listening = await new Promise<ListeningLine>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new StillMotionError(Code.DEADLINE_EXCEEDED, "trainer did not report its ports in time"));
      }, options.startTimeoutMs ?? 60_000);
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        try {
          const parsed = JSON.parse(line) as Partial<ListeningLine>;
          if (parsed.event === "listening") {
            clearTimeout(timer);
            resolve(parsed as ListeningLine);
          }
        } catch {
          // not a machine-readable line; ignore
        }
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new StillMotionError(Code.UNAVAILABLE, `cannot start ${pythonExecutable()}: ${err.message}`));
      });
      void exitPromise.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(
          new StillMotionError(
            Code.UNAVAILABLE,
            `trainer exited before listening (code ${code}, signal ${signal}):\n${stderrTail.join("\n")}`,
          ),
        );
      });
    });
    let telemetryCurve: CurveKeys | undefined;
    if (curveClient) {
      const serverKey = listening.telemetry_server_key;
      if (!serverKey) {
        child.kill("SIGKILL");
        throw new StillMotionError(
          Code.FAILED_PRECONDITION,
          `trainer at ${listening.grpc_address} did not report a CURVE server key for its telemetry ` +
            `(${listening.telemetry_endpoint}); this trainer predates CURVE telemetry`,
        );
      }
      telemetryCurve = { ...curveClient, serverKey };
    }
    return new TrainerProcess(child, listening, token, telemetryCurve, exitPromise, stderrTail);
  }

  /** Resolves when the process has exited. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitPromise;
  }

  /** SIGTERM, then SIGKILL if it is still alive after `graceMs`. */
  async stop(graceMs = 5_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.isRunning()) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      const result = await this.exitPromise;
      clearTimeout(timer);
      return result;
    }
    return this.exitPromise;
  }
}
