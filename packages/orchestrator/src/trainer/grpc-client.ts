/**
 * gRPC client for the trainer. The only module of the orchestrator that imports @grpc/grpc-js:
 * it turns the generated callback API into promises and async iterators, adds the bearer token,
 * and turns gRPC errors into StillMotionError with the same code.
 */
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { type telemetry, trainer } from "@stillmotion/proto";
import { Code, StillMotionError } from "../errors.js";

export type HealthResponse = trainer.HealthResponse;
export type GetVersionResponse = trainer.GetVersionResponse;
export type RunStatus = trainer.RunStatus;
export type CheckpointInfo = trainer.CheckpointInfo;
export const RunState = trainer.RunStatus_State;

/** Largest message either side accepts (previews are the big ones). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface TrainerRpcOptions {
  /** Per-call deadline in milliseconds (default 30 s). */
  timeoutMs?: number;
  /**
   * The trainer's bearer token: every trainer the CLI spawns requires one (TrainerProcess makes
   * it; orchestrator.json keeps it, mode 0600, for `stillmotion stop/status`).
   */
  token?: string;
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type UnaryCall<Req, Res> = (
  req: Req,
  meta: Metadata,
  opts: { deadline: number },
  cb: Callback<Res>,
) => unknown;

export class TrainerRpc {
  private readonly client: trainer.TrainerClient;

  constructor(
    readonly address: string,
    private readonly options: TrainerRpcOptions = {},
  ) {
    this.client = new trainer.TrainerClient(address, credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    });
  }

  health(): Promise<HealthResponse> {
    return this.unary((r, m, o, cb) => this.client.health(r, m, o, cb), {});
  }

  getVersion(): Promise<GetVersionResponse> {
    return this.unary((r, m, o, cb) => this.client.getVersion(r, m, o, cb), {});
  }

  startRun(request: Partial<trainer.StartRunRequest>): Promise<trainer.StartRunResponse> {
    return this.unary(
      (r, m, o, cb) => this.client.startRun(r, m, o, cb),
      trainer.StartRunRequest.fromPartial(request),
    );
  }

  stopRun(runId = ""): Promise<trainer.StopRunResponse> {
    return this.unary((r, m, o, cb) => this.client.stopRun(r, m, o, cb), { runId });
  }

  getStatus(runId = ""): Promise<RunStatus> {
    return this.unary((r, m, o, cb) => this.client.getStatus(r, m, o, cb), { runId });
  }

  async listCheckpoints(runId = ""): Promise<CheckpointInfo[]> {
    const res = await this.unary<trainer.ListCheckpointsRequest, trainer.ListCheckpointsResponse>(
      (r, m, o, cb) => this.client.listCheckpoints(r, m, o, cb),
      { runId },
    );
    return res.checkpoints;
  }

  exportOnnx(request: Partial<trainer.ExportOnnxRequest>): Promise<trainer.ExportOnnxResponse> {
    return this.unary(
      (r, m, o, cb) => this.client.exportOnnx(r, m, o, cb),
      trainer.ExportOnnxRequest.fromPartial(request),
      600_000,
    );
  }

  /** Every event of the run from `fromSeq` on; ends when the run has ended or on cancel(). */
  async *streamEvents(
    fromSeq = 0,
    runId = "",
    signal?: AbortSignal,
  ): AsyncGenerator<telemetry.TelemetryEvent> {
    const call = this.client.streamEvents({ runId, fromSeq }, this.metadata());
    const abort = () => call.cancel();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      for await (const event of call as AsyncIterable<telemetry.TelemetryEvent>) yield event;
    } catch (err) {
      if ((err as ServiceError).code === (Code.CANCELLED as number) && signal?.aborted) return;
      throw fromServiceError(err as ServiceError, this.address);
    } finally {
      signal?.removeEventListener("abort", abort);
      call.cancel();
    }
  }

  /** Resolves once the channel is connected, or rejects with UNAVAILABLE after `timeoutMs`. */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) =>
        err
          ? reject(
              new StillMotionError(Code.UNAVAILABLE, `trainer at ${this.address} not ready: ${err.message}`),
            )
          : resolve(),
      );
    });
  }

  close(): void {
    this.client.close();
  }

  private metadata(): Metadata {
    const meta = new Metadata();
    if (this.options.token) meta.set("authorization", `Bearer ${this.options.token}`);
    return meta;
  }

  private unary<Req, Res>(call: UnaryCall<Req, Res>, req: Req, timeoutMs?: number): Promise<Res> {
    const deadline = Date.now() + (timeoutMs ?? this.options.timeoutMs ?? 30_000);
    return new Promise((resolve, reject) => {
      call(req, this.metadata(), { deadline }, (err, res) => {
        if (err) reject(fromServiceError(err, this.address));
        else resolve(res);
      });
    });
  }
}

function fromServiceError(err: ServiceError, address: string): StillMotionError {
  const code = typeof err.code === "number" && err.code in Code ? (err.code as number as Code) : Code.UNKNOWN;
  // The one refusal a user can act on: say where the right token is and who may read it.
  const hint =
    code === Code.UNAUTHENTICATED
      ? " (a run's token is in its orchestrator.json, readable only by the user who started the run)"
      : "";
  return new StillMotionError(code, `trainer ${address}: ${err.details || err.message}${hint}`, {
    cause: err,
  });
}
