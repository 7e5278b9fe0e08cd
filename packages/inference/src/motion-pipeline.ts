/**
 * Match ahead on one core, carry masks on another. A split model's step is two halves
 * (split-layout.ts): the match (features of both frames -> the level motion) never reads a mask,
 * the carry (motion, next frame, mask -> next mask) does. Along a chain only the carry must wait
 * for the step before it, so the motion worker (motion-worker.ts, a worker thread with its own
 * onnxruntime sessions) computes the motion of the next frame pairs while this thread carries
 * the mask through the current one. On 2 cores each half gets one: one-thread sessions waste
 * less than one two-thread session splitting every small operator (docs/models.md, "Matching
 * ahead").
 *
 * `MotionPipeline` owns the worker (started once per generator, ended by `close`); each use
 * (a propagateMasks call, a stream) opens a `MotionSession`, which names its frames by index,
 * sends each frame once while its features are needed and tells the worker which frames to keep
 * after each request, so the worker holds a bounded window of features.
 *
 * Where a frame's features are computed: a frame is sent either as pixels (the worker runs the
 * features graph) or as its features (this thread ran it). The features belong on the lighter
 * half: with carry time A, motion time B and features time F a frame, features here cost
 * max(A + F, B) a frame, in the worker max(A, B + F); the first is smaller exactly when A < B.
 * So `featuresOn: "auto"` sends features from here while the measured carry (this thread, per
 * step) is cheaper than the measured motion (the worker, per pair), pixels otherwise, decided
 * frame by frame (the worker takes either). A model whose correction runs at half size (carry
 * 5.5 ms against motion 7.8 at 256 px) computes them here; one with a full-size correction
 * (carry 12 ms) leaves them to the worker (docs/models.md, "Matching ahead").
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

import type { SessionOptions, TensorData } from "./backend/onnx.js";
import { Code, InferenceError } from "./errors.js";
import type { FloatImage } from "./image-types.js";

/** What the worker is started with. */
export interface MotionWorkerData {
  file: string;
  featuresGraph: Uint8Array;
  motionGraph: Uint8Array;
  /** The motion graph's output, motion_s<stride>. */
  motionOutput: string;
  /** The worker sessions' options (their intra-op threads: its half of the cores). */
  session: SessionOptions;
}

/** A frame the worker has not got: its pixels ((1, C, H, W), copied), or its features (one
 * tensor per features-graph output, moved). */
export interface SentFrame {
  key: string;
  pixels?: TensorData;
  features?: Record<string, TensorData>;
}

/** Compute the features of `frames`, the motion of each (from, to) pair; then keep only `keep`
 * among the frames of `session`. */
export interface MotionRequest {
  id: number;
  session: number;
  frames: SentFrame[];
  pairs: [string, string][];
  keep: string[];
}

/** The level motion of each pair of request `id` (moved, not copied) and the worker's time a
 * pair in the motion graph (ms), or why not. */
export interface MotionReply {
  id: number;
  levels?: Float32Array[];
  dims?: number[][];
  motionMs?: number;
  error?: { code?: number; message: string };
}

/** A frame's features computed on this thread, as buffers of their own (they are moved to the
 * worker). */
export type FeaturesHere = (frame: FloatImage) => Promise<Record<string, TensorData>>;

/** Where frames' features are computed: "auto" (the lighter half, measured), "main" (this
 * thread; needs a FeaturesHere) or "worker". */
export type FeaturesOn = "auto" | "main" | "worker";

/** Weight of a new measurement in the running carry and motion times. */
const SMOOTHING = 0.2;

interface Pending {
  resolve: (levels: TensorData[]) => void;
  reject: (err: unknown) => void;
}

/** The worker's module: next to this one once built; from the build when this runs as source
 * (the tests run src/*.ts, which a worker thread cannot load). */
function workerUrl(): URL {
  const here = import.meta.url;
  const built = new URL(here.endsWith(".ts") ? "../dist/motion-worker.js" : "./motion-worker.js", here);
  if (!existsSync(fileURLToPath(built))) {
    throw new InferenceError(
      Code.FAILED_PRECONDITION,
      `the motion worker ${fileURLToPath(built)} is missing (build @stillmotion/inference first)`,
    );
  }
  return built;
}

export class MotionPipeline {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextSession = 0;
  private failure: InferenceError | undefined;
  /** Running (exponentially smoothed) times, ms: a carry step here, a motion pair there. */
  private carryMs: number | undefined;
  private motionMs: number | undefined;
  /** Where features are computed (module doc); tests and benchmarks pin it. */
  featuresOn: FeaturesOn = "auto";
  /** Frames whose features were computed here / in the worker, over this pipeline's life. */
  readonly featuresComputed = { main: 0, worker: 0 };

  /** `featuresHere`: computes a frame's features on this thread (without it, the worker always
   * does). */
  constructor(
    readonly data: MotionWorkerData,
    readonly featuresHere?: FeaturesHere,
  ) {
    this.worker = new Worker(workerUrl(), { workerData: data });
    this.worker.unref(); // an idle worker never keeps the process alive (ref'd while busy)
    this.worker.on("message", (reply: MotionReply) => this.settle(reply));
    this.worker.on("error", (err) => this.fail(`the motion worker failed: ${err.message}`, err));
    this.worker.on("exit", (code) => this.fail(`the motion worker exited (code ${code})`));
  }

  /** A new namespace of frames (one video or stream). */
  open(): MotionSession {
    return new MotionSession(this, this.nextSession++);
  }

  /** Record how long this thread took to carry one step (Generator.carryMasks). */
  noteCarry(ms: number): void {
    this.carryMs = smooth(this.carryMs, ms);
  }

  /** Record how long the worker took to match one pair (each reply says). */
  noteMotion(ms: number): void {
    this.motionMs = smooth(this.motionMs, ms);
  }

  /** Whether the next frame sent has its features computed here (module doc). */
  computesFeaturesHere(): boolean {
    if (this.featuresHere === undefined || this.featuresOn === "worker") return false;
    if (this.featuresOn === "main") return true;
    return this.carryMs !== undefined && this.motionMs !== undefined && this.carryMs < this.motionMs;
  }

  /** @internal MotionSession's request. */
  post(request: Omit<MotionRequest, "id">): Promise<TensorData[]> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const reply = new Promise<TensorData[]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) this.worker.ref();
    const moved: ArrayBuffer[] = [];
    for (const frame of request.frames) {
      if (frame.features === undefined) this.featuresComputed.worker++;
      else {
        this.featuresComputed.main++;
        for (const tensor of Object.values(frame.features)) moved.push(tensor.data.buffer as ArrayBuffer);
      }
    }
    this.worker.postMessage({ id, ...request } satisfies MotionRequest, moved);
    return reply;
  }

  /** End the worker; pending requests fail with CANCELLED. */
  async close(): Promise<void> {
    this.failure ??= new InferenceError(Code.CANCELLED, "the motion pipeline was closed", {
      file: this.data.file,
    });
    this.rejectAll(this.failure);
    await this.worker.terminate();
  }

  private settle(reply: MotionReply): void {
    const waiting = this.pending.get(reply.id);
    if (waiting === undefined) return; // a request whose caller is gone (closed)
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.error !== undefined) {
      const code = reply.error.code ?? Code.INTERNAL;
      waiting.reject(new InferenceError(code, reply.error.message, { file: this.data.file }));
      return;
    }
    if (reply.motionMs !== undefined) this.noteMotion(reply.motionMs);
    const dims = reply.dims ?? [];
    waiting.resolve((reply.levels ?? []).map((data, i) => ({ data, dims: dims[i] })));
  }

  private fail(message: string, cause?: unknown): void {
    this.failure ??= new InferenceError(Code.INTERNAL, message, { file: this.data.file, cause });
    this.rejectAll(this.failure);
  }

  private rejectAll(err: InferenceError): void {
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
    this.worker.unref();
  }
}

function smooth(running: number | undefined, ms: number): number {
  return running === undefined ? ms : running + SMOOTHING * (ms - running);
}

/**
 * One video's frames on the worker: `motion` asks for frame pairs by index and sends the frames
 * the worker lacks; `keep` (frames needed after this request) bounds what it holds.
 */
export class MotionSession {
  /** Frames the worker holds for this session (it applies every request's keep in order). */
  private readonly held = new Set<number>();
  /** Frames sent (a frame dropped and needed again counts twice), and the most held at once. */
  sent = 0;
  peak = 0;
  /** The last request's send: requests go out in order even when one waits for features. */
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pipeline: MotionPipeline,
    private readonly id: number,
  ) {}

  /** The level motion of each (from, to) pair, frames by index (`frameAt`). */
  motion(
    pairs: readonly (readonly [number, number])[],
    frameAt: (index: number) => FloatImage,
    keep: Iterable<number>,
  ): Promise<TensorData[]> {
    const frames: Promise<SentFrame>[] = [];
    for (const index of new Set(pairs.flat())) {
      if (this.held.has(index)) continue;
      frames.push(this.frame(index, frameAt(index)));
      this.held.add(index);
    }
    this.sent += frames.length;
    this.peak = Math.max(this.peak, this.held.size);
    const kept = new Set(keep);
    for (const index of [...this.held]) if (!kept.has(index)) this.held.delete(index);
    const request = {
      session: this.id,
      pairs: pairs.map(([from, to]) => [this.key(from), this.key(to)] as [string, string]),
      keep: [...this.held].map((i) => this.key(i)),
    };
    const reply = this.sending
      .then(() => Promise.all(frames))
      .then((sent) => this.pipeline.post({ ...request, frames: sent }));
    this.sending = reply.catch(() => {});
    return reply;
  }

  /** Frame `index` as the worker gets it: its features computed here, or its pixels. */
  private async frame(index: number, image: FloatImage): Promise<SentFrame> {
    const key = this.key(index);
    const here = this.pipeline.featuresHere;
    if (here !== undefined && this.pipeline.computesFeaturesHere())
      return { key, features: await here(image) };
    const { data, channels, height, width } = image;
    return { key, pixels: { data, dims: [1, channels, height, width] } };
  }

  /** Let the worker drop every frame of this session. */
  close(): void {
    this.held.clear();
    this.pipeline.post({ session: this.id, frames: [], pairs: [], keep: [] }).catch(() => {});
  }

  private key(index: number): string {
    return `${this.id}/${index}`;
  }
}

/**
 * The motion of a planned chain schedule, requested ahead: `rows[r]` are the (from, to) pairs of
 * the r-th carry call. Each row is one request (the worker answers it as soon as it is matched),
 * sent up to `2 * window` rows ahead of the row being carried, so the worker matches the next
 * rows while this thread carries the current one; after each request the worker keeps only the
 * frames the next `window` rows read. (Requests of several rows made this thread wait for the
 * whole group: 45 ms at the start of a 256 px chain, 0.8 ms a frame of a 60-frame clip.)
 */
export class MotionAhead {
  private readonly replies: Promise<TensorData[]>[] = [];

  constructor(
    readonly session: MotionSession,
    private readonly rows: readonly (readonly (readonly [number, number])[])[],
    private readonly frameAt: (index: number) => FloatImage,
    private readonly window: number,
  ) {}

  /** The level motion of row r's pairs (requesting the rows up to 2 * window past r). */
  take(r: number): Promise<TensorData[]> {
    this.fill(Math.min(r + 1 + 2 * this.window, this.rows.length));
    return this.replies[r];
  }

  close(): void {
    this.session.close();
  }

  private fill(upto: number): void {
    while (this.replies.length < upto) {
      const r = this.replies.length;
      const next = this.rows.slice(r + 1, r + 1 + this.window).flat(2);
      const reply = this.session.motion(this.rows[r], this.frameAt, next);
      reply.catch(() => {}); // a row never taken (aborted, failed earlier) is not an unhandled rejection
      this.replies.push(reply);
    }
  }
}
