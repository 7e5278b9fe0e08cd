/**
 * Turns the lossy ZeroMQ telemetry stream into an exactly-once, in-order event stream.
 *
 * Sequenced events carry seq = 1, 2, 3, ... per trainer process. When an event arrives with a
 * seq beyond the next expected one (ZeroMQ dropped messages: slow subscriber, late join), the
 * missing range is back-filled from `backfill` (the trainer's StreamEvents history); events at
 * or below the last delivered seq are duplicates and are dropped.
 */
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";

export type Backfill = (fromSeq: number, toSeqExclusive: number) => AsyncIterable<TelemetryEvent>;

export interface SequenceStats {
  delivered: number;
  backfilled: number;
  duplicatesDropped: number;
  gaps: number;
}

export class SequencedEvents {
  private lastSeq = 0;
  readonly stats: SequenceStats = { delivered: 0, backfilled: 0, duplicatesDropped: 0, gaps: 0 };

  constructor(
    private readonly backfill: Backfill,
    private readonly deliver: (event: TelemetryEvent) => void,
  ) {}

  get lastDeliveredSeq(): number {
    return this.lastSeq;
  }

  /** Feeds one received event (heartbeats, seq not advancing, are passed through untouched). */
  async accept(event: TelemetryEvent): Promise<void> {
    if (event.heartbeat) {
      this.deliver(event);
      return;
    }
    if (event.seq <= this.lastSeq) {
      this.stats.duplicatesDropped++;
      return;
    }
    if (event.seq > this.lastSeq + 1) await this.fill(event.seq);
    this.push(event);
  }

  /** Back-fills everything after the last delivered event up to (excluding) `toSeq`. */
  async fill(toSeq: number): Promise<void> {
    if (toSeq <= this.lastSeq + 1) return;
    this.stats.gaps++;
    for await (const missing of this.backfill(this.lastSeq + 1, toSeq)) {
      if (missing.seq >= toSeq) break;
      if (missing.seq <= this.lastSeq) continue;
      this.stats.backfilled++;
      this.push(missing);
    }
  }

  private push(event: TelemetryEvent): void {
    this.lastSeq = event.seq;
    this.stats.delivered++;
    this.deliver(event);
  }
}
