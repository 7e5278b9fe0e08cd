/**
 * ZeroMQ SUB side of the trainer's telemetry. The only module of the orchestrator that imports
 * zeromq. Messages are multipart: [topic, TelemetryEvent bytes, ...binary payloads].
 *
 * Telemetry beyond loopback is ZeroMQ CURVE: we make a client key pair per trainer
 * (`newCurveClientKeys`), the trainer admits only that public key and tells us its server key
 * in its listening line; a socket without both keys never completes the handshake. On loopback
 * it is plain (python-trainer/stillmotion_trainer/server/process.py says what that leaves open).
 */
import { telemetry } from "@stillmotion/proto";
import { capability, curveKeyPair, Subscriber } from "zeromq";
import { isLoopbackHost } from "../dashboard/access.js";
import { Code, StillMotionError } from "../errors.js";

/** Our CURVE identity for one trainer, and the trainer's public key once it has told us. */
export interface CurveClientKeys {
  publicKey: string;
  secretKey: string;
}

export interface CurveKeys extends CurveClientKeys {
  /** The trainer's CURVE public key (Z85, from its listening line). */
  serverKey: string;
}

/**
 * True when a ZeroMQ endpoint can be reached from another machine: tcp:// on anything but a
 * loopback host (`*` and 0.0.0.0 are every interface). ipc:// and inproc:// stay on this one.
 */
export function telemetryBeyondLoopback(endpoint: string): boolean {
  const [transport = "", rest = ""] = endpoint.split("://", 2);
  if (transport === "ipc" || transport === "inproc") return false;
  return !isLoopbackHost(rest);
}

/**
 * A fresh CURVE client key pair (zmq.curveKeyPair, Z85 text). `available` is the zeromq build's
 * capability; a build without CURVE is refused with FAILED_PRECONDITION, naming what to do.
 */
export function newCurveClientKeys(available: boolean = capability.curve ?? false): CurveClientKeys {
  if (!available) {
    throw new StillMotionError(
      Code.FAILED_PRECONDITION,
      "telemetry beyond loopback needs ZeroMQ CURVE, but this zeromq build lacks it " +
        "(zeromq capability.curve is false): bind telemetry to 127.0.0.1, or reinstall zeromq with libsodium",
    );
  }
  return curveKeyPair();
}

export type TelemetryEvent = telemetry.TelemetryEvent;

export interface TelemetryMessage {
  topic: string;
  event: TelemetryEvent;
  payloads: Buffer[];
}

export interface SubscriberOptions {
  /** Messages ZeroMQ queues for us before it drops (default 100k). */
  receiveHwm?: number;
  /** Kernel receive buffer in bytes (default: the OS's); tests shrink it to force drops. */
  receiveBufferSize?: number;
  /** Connect as a CURVE client (the trainer's telemetry beyond loopback). */
  curve?: CurveKeys;
}

export class TelemetrySubscriber implements AsyncIterable<TelemetryMessage> {
  private readonly socket: Subscriber;

  /** Connects to `endpoint` and subscribes to `topics` (all topics when empty). */
  constructor(
    readonly endpoint: string,
    topics: string[] = [],
    options: SubscriberOptions = {},
  ) {
    this.socket = new Subscriber({
      receiveHighWaterMark: options.receiveHwm ?? 100_000,
      ...(options.receiveBufferSize ? { receiveBufferSize: options.receiveBufferSize } : {}),
      ...(options.curve
        ? {
            curveServerKey: options.curve.serverKey,
            curvePublicKey: options.curve.publicKey,
            curveSecretKey: options.curve.secretKey,
          }
        : {}),
    });
    this.socket.connect(endpoint);
    if (topics.length === 0) this.socket.subscribe();
    else for (const t of topics) this.socket.subscribe(t);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TelemetryMessage> {
    for await (const [topic, body, ...payloads] of this.socket) {
      if (!topic || !body) continue;
      yield { topic: topic.toString("utf8"), event: telemetry.TelemetryEvent.decode(body), payloads };
    }
  }

  /** The next message whose topic is `topic`; rejects after `timeoutMs` (the socket stays usable). */
  async next(topic: string, timeoutMs = 10_000): Promise<TelemetryMessage> {
    const deadline = Date.now() + timeoutMs;
    const previous = this.socket.receiveTimeout;
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        this.socket.receiveTimeout = left;
        let frames: Buffer[];
        try {
          frames = await this.socket.receive();
        } catch {
          break; // timed out (EAGAIN) or closed
        }
        const [t, body, ...payloads] = frames;
        if (t?.toString("utf8") === topic && body) {
          return { topic, event: telemetry.TelemetryEvent.decode(body), payloads };
        }
      }
    } finally {
      if (!this.socket.closed) this.socket.receiveTimeout = previous;
    }
    throw new Error(`no "${topic}" telemetry from ${this.endpoint} within ${timeoutMs} ms`);
  }

  close(): void {
    if (!this.socket.closed) this.socket.close();
  }
}
