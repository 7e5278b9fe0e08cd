/**
 * Where a dashboard's data comes from, one source per run:
 * - `LiveRunSource`: fed by `train` with every telemetry event as it arrives;
 * - `TailRunSource`: follows an existing run directory (metrics.jsonl, previews/, summary.json)
 *   by polling it, so `stillmotion dashboard` works on runs started elsewhere or long finished.
 * Both keep a `RunView` and tell subscribers about each change.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { type MetricRecord, runFiles } from "../runs/run-record.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import {
  listPreviewFiles,
  PREVIEWS_KEPT,
  readPreview,
  type StoredPreview,
  toStoredPreview,
} from "./preview-store.js";
import {
  appendMetric,
  loadRunView,
  MAX_TRAIN_ROWS,
  maxStepsOf,
  metricFromEvent,
  type RunStatus,
  type RunView,
  statusFromDisk,
  thinMetrics,
} from "./run-view.js";

/** One change of a run, as sent to the page ("reset": the run was rewritten, re-read `view()`). */
export type RunUpdate =
  | { type: "metric"; record: MetricRecord }
  | { type: "preview"; preview: StoredPreview }
  | { type: "status"; status: RunStatus }
  | { type: "reset" };

export type RunListener = (update: RunUpdate) => void;

export abstract class RunSource {
  protected current: RunView;
  private readonly listeners = new Set<RunListener>();

  constructor(runDir: string) {
    this.current = loadRunView(runDir);
  }

  /** The run as known now (train rows thinned to at most MAX_TRAIN_ROWS). */
  view(): RunView {
    return { ...this.current, metrics: thinMetrics(this.current.metrics) };
  }

  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: RunListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
  }

  protected emit(update: RunUpdate): void {
    for (const listener of this.listeners) listener(update);
  }

  protected addMetric(record: MetricRecord): void {
    appendMetric(this.current.metrics, record);
    // Bound memory on very long runs: halve the resolution rather than grow without end.
    if (this.current.metrics.length > 2 * MAX_TRAIN_ROWS + 1000) {
      this.current.metrics = thinMetrics(this.current.metrics, MAX_TRAIN_ROWS);
    }
    this.emit({ type: "metric", record });
  }

  protected addPreview(preview: StoredPreview): void {
    const previews = this.current.previews.filter((p) => p.step !== preview.step);
    previews.push(preview);
    previews.sort((a, b) => a.step - b.step);
    this.current.previews = previews.slice(-PREVIEWS_KEPT);
    this.emit({ type: "preview", preview });
  }

  protected setStatus(status: RunStatus): void {
    if (JSON.stringify(status) === JSON.stringify(this.current.status)) return;
    this.current.status = status;
    this.emit({ type: "status", status });
  }
}

/** A run that `train` is supervising: updated from telemetry events, in order. */
export class LiveRunSource extends RunSource {
  /** Applies one telemetry event; returns the stored form of a preview event (to save it). */
  onEvent(event: TelemetryEvent): StoredPreview | undefined {
    const status = this.current.status;
    const record = metricFromEvent(event);
    if (record) {
      this.addMetric(record);
      if (record.kind === "train") this.current.status = { ...status, step: record.step };
    } else if (event.preview) {
      // Back-filled history may have dropped the pixels of old previews: nothing to show then.
      if (event.preview.images.length === 0) return undefined;
      const preview = toStoredPreview(event.preview, event.timeUnixS);
      this.addPreview(preview);
      return preview;
    } else if (event.runStarted) {
      let config: unknown;
      try {
        config = JSON.parse(event.runStarted.configJson);
      } catch {
        config = undefined; // the status line just lacks the step budget
      }
      const maxSteps = maxStepsOf(config) ?? status.maxSteps;
      this.setStatus({ state: "running", step: Number(event.runStarted.startStep), maxSteps, reason: "" });
    } else if (event.heartbeat && Number(event.heartbeat.step) > 0) {
      this.setStatus({ ...status, state: "running", step: Number(event.heartbeat.step) });
    } else if (event.runEnded) {
      const { reason, error } = event.runEnded;
      const state = reason === "failed" ? "failed" : reason === "stopped" ? "stopped" : "finished";
      this.setStatus({
        ...status,
        state,
        step: Number(event.runEnded.step),
        reason: error ? `${reason}: ${error}` : reason,
      });
    }
    return undefined;
  }

  /** The supervisor gave up (trainer died, killed): the run is no longer running. */
  markFailed(reason: string): void {
    if (this.current.status.state === "running" || this.current.status.state === "unknown") {
      this.setStatus({ ...this.current.status, state: "failed", reason });
    }
  }
}

export interface TailOptions {
  /** Poll period (default 500 ms). */
  intervalMs?: number;
  /** A file that cannot be read (reported once per distinct problem; polling goes on). */
  onError?: (err: Error) => void;
}

/** Follows a run directory on disk by polling it. */
export class TailRunSource extends RunSource {
  private readonly runDir: string;
  private readonly timer: NodeJS.Timeout;
  private metricsIno = -1;
  private metricsOffset = 0;
  private partialLine: Buffer = Buffer.alloc(0);
  private readonly previewMtimes = new Map<string, number>();
  private lastError = "";

  constructor(
    runDir: string,
    private readonly options: TailOptions = {},
  ) {
    super(runDir);
    this.runDir = resolve(runDir);
    this.markRead();
    this.timer = setInterval(() => this.poll(), options.intervalMs ?? 500);
    this.timer.unref();
  }

  override close(): void {
    clearInterval(this.timer);
    super.close();
  }

  /** Records what `loadRunView` has already read, so polling only picks up what is new. */
  private markRead(): void {
    const st = statOrUndefined(runFiles.metrics(this.runDir));
    this.metricsIno = st?.ino ?? -1;
    this.metricsOffset = st?.size ?? 0;
    this.partialLine = Buffer.alloc(0);
    this.previewMtimes.clear();
    for (const path of listPreviewFiles(this.runDir))
      this.previewMtimes.set(path, statOrUndefined(path)?.mtimeMs ?? 0);
  }

  /** One look at the directory; public so tests need not wait for the timer. */
  poll(): void {
    try {
      this.pollMetrics();
      this.pollPreviews();
      this.setStatus(statusFromDisk(this.runDir, this.current.metrics));
      this.lastError = "";
    } catch (err) {
      const error = err as Error;
      if (error.message !== this.lastError) this.options.onError?.(error);
      this.lastError = error.message;
    }
  }

  private pollMetrics(): void {
    const path = runFiles.metrics(this.runDir);
    const st = statOrUndefined(path);
    if (!st) return;
    if (this.metricsIno === -1) this.metricsIno = st.ino; // the file appeared: read it from the start
    // The trainer rewrites metrics.jsonl (temp file + rename) when it resumes: start over.
    if (st.ino !== this.metricsIno || st.size < this.metricsOffset) {
      this.current = loadRunView(this.runDir);
      this.markRead();
      this.emit({ type: "reset" });
      return;
    }
    if (st.size === this.metricsOffset) return;
    const chunk = Buffer.concat([this.partialLine, readRange(path, this.metricsOffset, st.size)]);
    this.metricsOffset = st.size;
    const end = chunk.lastIndexOf(0x0a);
    this.partialLine = chunk.subarray(end + 1); // a line still being written
    for (const line of chunk
      .subarray(0, end + 1)
      .toString("utf8")
      .split("\n")) {
      if (!line.trim()) continue;
      let record: MetricRecord;
      try {
        record = JSON.parse(line) as MetricRecord;
      } catch {
        continue; // a torn line from a killed writer, as readMetrics skips it
      }
      this.addMetric(record);
    }
  }

  private pollPreviews(): void {
    for (const path of listPreviewFiles(this.runDir)) {
      const mtime = statOrUndefined(path)?.mtimeMs;
      if (mtime === undefined || this.previewMtimes.get(path) === mtime) continue;
      this.previewMtimes.set(path, mtime);
      this.addPreview(readPreview(path));
    }
  }
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function readRange(path: string, start: number, end: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(end - start);
    const n = readSync(fd, buffer, 0, buffer.length, start);
    return buffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
