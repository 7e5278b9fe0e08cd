/**
 * gRPC client for the trainer. The only module of the orchestrator that imports @grpc/grpc-js:
 * it turns the generated callback API into promises and gRPC errors into StillMotionError.
 */
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { trainer } from "@stillmotion/proto";
import { Code, StillMotionError } from "../errors.js";

export type HealthResponse = trainer.HealthResponse;
export type GetVersionResponse = trainer.GetVersionResponse;

export interface TrainerRpcOptions {
  /** Per-call deadline in milliseconds (default 10 s). */
  timeoutMs?: number;
}

export class TrainerRpc {
  private readonly client: trainer.TrainerClient;

  constructor(
    readonly address: string,
    private readonly options: TrainerRpcOptions = {},
  ) {
    this.client = new trainer.TrainerClient(address, credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
  }

  health(): Promise<HealthResponse> {
    return this.unary((req, meta, opts, cb) => this.client.health(req, meta, opts, cb), {});
  }

  getVersion(): Promise<GetVersionResponse> {
    return this.unary((req, meta, opts, cb) => this.client.getVersion(req, meta, opts, cb), {});
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

  private unary<Req, Res>(
    call: (
      req: Req,
      meta: Metadata,
      opts: { deadline: number },
      cb: (err: ServiceError | null, res: Res) => void,
    ) => unknown,
    req: Req,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      call(req, new Metadata(), { deadline: Date.now() + (this.options.timeoutMs ?? 10_000) }, (err, res) => {
        if (err) reject(fromServiceError(err, this.address));
        else resolve(res);
      });
    });
  }
}

function fromServiceError(err: ServiceError, address: string): StillMotionError {
  const code = (err.code as number) in Code ? (err.code as unknown as Code) : Code.UNKNOWN;
  return new StillMotionError(code, `trainer ${address}: ${err.details || err.message}`, { cause: err });
}
