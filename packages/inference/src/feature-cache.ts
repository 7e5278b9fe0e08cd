/**
 * Per-frame matching features of a split generator (split-layout.ts) along the chains of one
 * video: each frame's features are computed once, in batched runs of the features graph, and kept
 * only while a chain still needs them, so memory stays bounded by the chains' windows, not by the
 * video's length.
 */
import type { Generator } from "./generator.js";
import type { FloatImage } from "./image-types.js";
import type { FrameFeatures } from "./split-layout.js";

export class FeatureCache {
  private readonly entries = new Map<number, FrameFeatures>();
  /** Frames whose features were computed (a frame dropped and needed again counts twice). */
  computed = 0;
  /** Most frames held at once. */
  peak = 0;

  constructor(
    private readonly generator: Generator,
    private readonly frames: readonly FloatImage[],
  ) {}

  /** Compute, in one run, the features of every frame of `indices` not held yet. */
  async ensure(indices: Iterable<number>): Promise<void> {
    const missing = [...new Set(indices)].filter((i) => !this.entries.has(i));
    if (missing.length === 0) return;
    const features = await this.generator.frameFeatures(missing.map((i) => this.frames[i]));
    missing.forEach((frame, k) => {
      this.entries.set(frame, features[k]);
    });
    this.computed += missing.length;
    this.peak = Math.max(this.peak, this.entries.size);
  }

  has(i: number): boolean {
    return this.entries.has(i);
  }

  /** The features of frame i (computed by `ensure`). */
  get(i: number): FrameFeatures {
    const f = this.entries.get(i);
    if (f === undefined) throw new Error(`FeatureCache: frame ${i} was not computed (call ensure first)`);
    return f;
  }

  /** Drop every frame for which `needed` is false. */
  retain(needed: (frame: number) => boolean): void {
    for (const frame of [...this.entries.keys()]) if (!needed(frame)) this.entries.delete(frame);
  }
}
