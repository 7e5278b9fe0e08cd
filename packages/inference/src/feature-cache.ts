/**
 * Per-frame matching features of a split generator (split-layout.ts) along the chains of one
 * video or stream: each frame's features are computed once, in batched runs of the features graph,
 * and kept only while a chain still needs them, so memory stays bounded by the chains' windows,
 * not by the video's length. The buffers of dropped frames are recycled into later runs
 * (onnxruntime writes into them): a fresh multi-megabyte array per run costs its page faults.
 */
import type { TensorData } from "./backend/onnx.js";
import type { Generator } from "./generator.js";
import type { FloatImage } from "./image-types.js";
import type { FrameFeatures } from "./split-layout.js";

/** The outputs of one features run, shared by its frames until all of them are dropped. */
interface Slab {
  key: string;
  outputs: Record<string, TensorData>;
  live: number;
}

export class FeatureCache {
  private readonly entries = new Map<number, FrameFeatures>();
  private readonly owner = new Map<number, Slab>();
  /** Free slabs by "frames x height x width". */
  private readonly pool = new Map<string, Slab[]>();
  /** Frames whose features were computed (a frame dropped and needed again counts twice). */
  computed = 0;
  /** Most frames held at once. */
  peak = 0;

  /** frameAt(i): the frame with index i (a video's frame, or a stream's current ones). */
  constructor(
    private readonly generator: Generator,
    private readonly frameAt: (i: number) => FloatImage,
  ) {}

  has(i: number): boolean {
    return this.entries.has(i);
  }

  /** Compute, in one run, the features of every frame of `indices` not held yet. */
  async ensure(indices: Iterable<number>): Promise<void> {
    const missing = [...new Set(indices)].filter((i) => !this.entries.has(i));
    if (missing.length === 0) return;
    const frames = missing.map(this.frameAt);
    const key = `${missing.length}x${frames[0].height}x${frames[0].width}`;
    const reused = this.pool.get(key)?.pop();
    const { frames: features, outputs } = await this.generator.frameFeaturesBatch(frames, reused?.outputs);
    const slab: Slab = reused ?? { key, outputs, live: 0 };
    slab.live = missing.length;
    missing.forEach((frame, k) => {
      this.entries.set(frame, features[k]);
      this.owner.set(frame, slab);
    });
    this.computed += missing.length;
    this.peak = Math.max(this.peak, this.entries.size);
  }

  /** The features of frame i (computed by `ensure`). */
  get(i: number): FrameFeatures {
    const f = this.entries.get(i);
    if (f === undefined) throw new Error(`FeatureCache: frame ${i} was not computed (call ensure first)`);
    return f;
  }

  /** Drop every frame for which `needed` is false; a slab whose frames are all dropped is reused. */
  retain(needed: (frame: number) => boolean): void {
    for (const frame of [...this.entries.keys()]) {
      if (needed(frame)) continue;
      this.entries.delete(frame);
      const slab = this.owner.get(frame) as Slab;
      this.owner.delete(frame);
      if (--slab.live === 0) {
        const free = this.pool.get(slab.key) ?? [];
        free.push(slab);
        this.pool.set(slab.key, free);
      }
    }
  }
}
