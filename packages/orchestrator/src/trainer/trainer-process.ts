/**
 * Spawns `python -m stillmotion_trainer serve`, waits for its "listening" line, and guarantees it
 * never outlives us: SIGTERM on stop(), SIGKILL after a grace period, and a kill on our own exit.
 * (The trainer also watches its parent and exits when we die, even by SIGKILL.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Code, StillMotionError } from "../errors.js";
import { pythonExecutable, trainerDir, trainerEnv } from "./python.js";

export interface ListeningLine {
  event: "listening";
  grpc_port: number;
  grpc_address: string;
  telemetry_endpoint: string;
  pid: number;
}

export interface SpawnTrainerOptions {
  /** gRPC bind address; port 0 lets the trainer choose. */
  address?: string;
  telemetryEndpoint?: string;
  heartbeatS?: number;
  /** How long to wait for the listening line (default 60 s: torch imports are slow). */
  startTimeoutMs?: number;
  /** Extra environment variables for the trainer. */
  env?: NodeJS.ProcessEnv;
  /** Bearer token the trainer will require (passed via STILLMOTION_TOKEN, never argv). */
  token?: string;
  /** Receives every stderr line of the trainer. */
  onStderr?: (line: string) => void;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class TrainerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly listening: ListeningLine,
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

  static async spawn(options: SpawnTrainerOptions = {}): Promise<TrainerProcess> {
    const args = ["-m", "stillmotion_trainer", "serve", "--address", options.address ?? "127.0.0.1:0"];
    if (options.telemetryEndpoint) args.push("--telemetry", options.telemetryEndpoint);
    if (options.heartbeatS !== undefined) args.push("--heartbeat-s", String(options.heartbeatS));
    const child = spawn(pythonExecutable(), args, {
      cwd: trainerDir(),
      env: trainerEnv({ ...options.env, ...(options.token ? { STILLMOTION_TOKEN: options.token } : {}) }),
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
    return new TrainerProcess(child, listening, exitPromise, stderrTail);
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
