/**
 * ZeroMQ SUB side of the trainer's telemetry. The only module of the orchestrator that imports
 * zeromq. Messages are multipart: [topic, TelemetryEvent bytes, ...binary payloads].
 */
import { telemetry } from "@stillmotion/proto";
import { Subscriber } from "zeromq";

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
