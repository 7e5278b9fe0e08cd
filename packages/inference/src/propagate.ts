/**
 * Fig. 6 of the method, untagged video -> tagged video (label propagation): from each key frame's
 * mask, walk forward and backward through the real frames, feeding back only the predicted mask:
 * M^_{t+1} = G(I_t, M^_t).mask forward, M^_{t-1} = G(I_t, M^_t).mask backward. Predicted images
 * are discarded (METHOD.md, Inference).
 *
 * Several key frames (METHOD.md leaves the combination open; StillMotion decides):
 * - "linear" (default): a frame between key frames a < t < b takes the distance-weighted average
 *   of the forward chain from a and the backward chain from b,
 *   M_t = ((b - t) * F_a(t) + (t - a) * B_b(t)) / (b - a),
 *   so each chain counts more the closer its key frame is, and the masks meet smoothly. Frames
 *   before the first key frame use its backward chain alone, frames after the last its forward
 *   chain alone. Key frames keep their own masks.
 * - "nearest": each frame takes the chain of its nearest key frame (ties go to the earlier key
 *   frame); chains stop half-way, so this costs about half the model runs of "linear".
 * Chains are independent, so they advance in lock-step in batched runs (`maxBatch`).
 *
 * What each step carries the mask from (`reference`; the trainer's evaluation/propagation.py):
 * - "previous" (default, Fig. 6 as written): the previous frame and the mask inferred for it;
 * - "key": the chain's key frame and its own mask, M^_t = G(I_k, M_k, I_t), for a generator that
 *   takes the frame it moves to (takesNextFrame): nothing accumulates along the chain, but the
 *   motion between I_k and I_t must stay within the model's matching reach. On real
 *   laryngoscopy it is the better one (docs/real-data.md).
 *
 * A split model (layout "split", split-layout.ts) computes each frame's matching features once
 * per chain visit, in batched runs `featureBatch` frames ahead of each chain, and keeps them only
 * while a chain's window still holds the frame (FeatureCache): the single graph computes them
 * twice, once as I_{t+1} and again as I_t at the next step. One that can pipeline
 * (`Generator.canPipeline`) matches on a second core instead (motion-pipeline.ts): the worker
 * computes features and motion step by step, up to 2 * `featureBatch` steps ahead, while this
 * thread carries the masks (`pipeline`, on by default when the session has 2 or more threads).
 */
import { Code, InferenceError, invalidArgument } from "./errors.js";
import { FeatureCache } from "./feature-cache.js";
import type { Generator } from "./generator.js";
import { checkImage, checkMask, type FloatImage, type Mask } from "./image-types.js";
import { MotionAhead } from "./motion-pipeline.js";
import { bilinearUp, boxDown, boxDownMask, checkDownsample } from "./work-scale.js";

export type Fusion = "linear" | "nearest";
export const FUSIONS: readonly Fusion[] = ["linear", "nearest"];
export type Reference = "previous" | "key";
export const REFERENCES: readonly Reference[] = ["previous", "key"];

/** A frame whose mask is known (clinician or detector, claim 10). */
export interface KeyFrame {
  index: number;
  mask: Mask;
}

export interface PropagateOptions {
  /** How chains from several key frames combine; default "linear". */
  fusion?: Fusion;
  /** What each step carries the mask from; default "previous" (module comment). */
  reference?: Reference;
  /** Most chains run together in one batched model call; default 2 (1 = no batching). */
  maxBatch?: number;
  /**
   * Split models: frames whose features one run computes ahead of each chain; default 4 (the
   * first run also the key frame). Batched runs cost less per frame (fewer onnxruntime calls,
   * measured in docs/models.md); each chain holds up to featureBatch + 1 frames' features
   * (256x256: 2.3 MB a frame).
   */
  featureBatch?: number;
  /**
   * Run the model on frames this many times smaller per side (box average) and return the masks
   * at the frames' size (bilinear; work-scale.ts); key frames keep their own masks. An integer
   * dividing both sides; default 1. 2 on 256 px frames runs the model at 128 px: about 3x the
   * frames/s, for a Dice change of -0.056 to +0.082 on real laryngoscopy (docs/real-data.md,
   * "Working at half size").
   */
  downsample?: number;
  /**
   * Match ahead on a second core (a model that `canPipeline`; motion-pipeline.ts). Default: on
   * when the model can and its session has 2 or more intra-op threads, which the two halves
   * then share (`Generator.pipelineThreads`). The masks are the same either way.
   */
  pipeline?: boolean;
  /** Called after each model call with (steps done, steps total). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Where a frame's mask came from: key frame index and weight, one entry per chain used. */
export interface MaskSource {
  keyframe: number;
  weight: number;
}

export interface PropagationResult {
  /** One soft mask per frame (0..1). */
  masks: Mask[];
  /** Per frame, the key frames (and weights) its mask was fused from. */
  sources: MaskSource[][];
  /** Generator steps run (frames x chains). */
  steps: number;
  /** Split models: frames whose features were computed, and the most held at once (else 0;
   * pipelined: frames sent to the motion worker, and the most it held). */
  featureFrames: number;
  peakFeatureFrames: number;
}

/** One chain step of a model call: carry the chain's mask from frame `from` to frame `to`. */
interface Step {
  chain: Chain;
  from: number;
  to: number;
}

interface Chain {
  key: number;
  direction: 1 | -1;
  /** Frame whose mask the chain holds now. */
  at: number;
  /** Last frame the chain must reach. */
  end: number;
  mask: Mask;
  /** Masks produced, by frame index. */
  out: Map<number, Mask>;
}

/** Masks for every frame of `frames`, propagated from `keyframes`. */
export async function propagateMasks(
  generator: Generator,
  frames: readonly FloatImage[],
  keyframes: readonly KeyFrame[],
  options: PropagateOptions = {},
): Promise<PropagationResult> {
  const fusion = options.fusion ?? "linear";
  if (!FUSIONS.includes(fusion)) throw invalidArgument("fusion", fusion, `one of: ${FUSIONS.join(", ")}`);
  const maxBatch = options.maxBatch ?? 2;
  if (!Number.isInteger(maxBatch) || maxBatch < 1)
    throw invalidArgument("maxBatch", maxBatch, "an integer >= 1");
  const featureBatch = options.featureBatch ?? 4;
  if (!Number.isInteger(featureBatch) || featureBatch < 1)
    throw invalidArgument("featureBatch", featureBatch, "an integer >= 1");
  const reference = options.reference ?? "previous";
  if (!REFERENCES.includes(reference))
    throw invalidArgument("reference", reference, `one of: ${REFERENCES.join(", ")}`);
  if (reference === "key" && !generator.takesNextFrame)
    throw invalidArgument(
      "reference",
      reference,
      "a generator that takes the next frame (G(I_t, M_t) can only step from the previous frame)",
    );
  const keys = checkInputs(generator, frames, keyframes);
  const n = frames.length;
  const downsample = options.downsample ?? 1;
  checkDownsample(downsample, frames[0].height, frames[0].width);
  if (downsample !== 1) {
    const small = await propagateMasks(
      generator,
      frames.map((f) => boxDown(f, downsample)),
      keys.map(({ index, mask }) => ({ index, mask: boxDownMask(mask, downsample) })),
      { ...options, downsample: 1 },
    );
    const own = new Map(keys.map(({ index, mask }) => [index, mask]));
    const masks = small.masks.map((m, t) => own.get(t) ?? bilinearUp(m, downsample));
    return { ...small, masks };
  }

  // 1. Plan the chains: each key frame walks towards its neighbours (or the ends of the video).
  const chains: Chain[] = [];
  keys.forEach(({ index: k, mask }, j) => {
    const prev = j > 0 ? keys[j - 1].index : undefined;
    const next = j + 1 < keys.length ? keys[j + 1].index : undefined;
    let fwdEnd = next === undefined ? n - 1 : next - 1;
    let bwdEnd = prev === undefined ? 0 : prev + 1;
    if (fusion === "nearest") {
      if (next !== undefined) fwdEnd = Math.floor((k + next) / 2); // ties -> earlier key frame
      if (prev !== undefined) bwdEnd = Math.floor((prev + k) / 2) + 1;
    }
    if (fwdEnd > k) chains.push({ key: k, direction: 1, at: k, end: fwdEnd, mask, out: new Map() });
    if (bwdEnd < k) chains.push({ key: k, direction: -1, at: k, end: bwdEnd, mask, out: new Map() });
  });
  const total = chains.reduce((s, c) => s + Math.abs(c.end - c.at), 0);

  // 2. Advance the chains in lock-step, batching up to maxBatch of them per model call.
  const rows = schedule(chains, maxBatch, reference);
  const pipelined = generator.pipelines(options.pipeline);
  const ahead = pipelined
    ? new MotionAhead(
        generator.motionPipeline().open(),
        rows.map((row) => row.map((s) => [s.from, s.to] as const)),
        (i) => frames[i],
        featureBatch,
      )
    : undefined;
  const cache =
    !pipelined && generator.layout === "split" ? new FeatureCache(generator, (i) => frames[i]) : undefined;
  /** Frames chain c reads from now on, up to featureBatch ahead: at, at + d, ..., capped at end
   * (and its key frame, which every step of a "key" chain reads). */
  const window = (c: Chain): number[] => {
    const ahead = Math.min(featureBatch, Math.abs(c.end - c.at));
    const walk = Array.from({ length: ahead + 1 }, (_, k) => c.at + k * c.direction);
    return reference === "key" ? [c.key, ...walk] : walk;
  };
  let done = 0;
  try {
    for (const [r, row] of rows.entries()) {
      if (options.signal?.aborted) {
        throw new InferenceError(Code.ABORTED, `propagateMasks aborted after ${done} of ${total} steps`, {
          cause: options.signal.reason,
        });
      }
      // G(I_t, M^_t) or, for a next-frame generator, G(I_t, M^_t, I_{t +- 1}) with the real frame
      // the chain moves to
      const masks = row.map((s) => s.chain.mask);
      const nextFrames = row.map((s) => frames[s.to]);
      let next: Mask[];
      if (ahead) {
        next = await generator.carryMasks(await ahead.take(r), nextFrames, masks);
      } else if (cache) {
        // features of the frames this step reads, and featureBatch - 1 more ahead, in one run
        if (row.some((s) => !cache.has(s.from) || !cache.has(s.to))) {
          await cache.ensure(row.flatMap((s) => window(s.chain)));
        }
        next = await generator.stepMaskFromFeatures(
          row.map((s) => cache.get(s.from)),
          masks,
          row.map((s) => cache.get(s.to)),
          nextFrames,
        );
      } else {
        next = await generator.stepMaskBatch(
          row.map((s) => frames[s.from]),
          masks,
          generator.takesNextFrame ? nextFrames : undefined,
        );
      }
      row.forEach(({ chain: c, to }, i) => {
        c.at = to;
        if (reference === "previous") c.mask = next[i]; // "key": c.mask stays the key mask
        c.out.set(c.at, next[i]);
      });
      done += row.length;
      if (cache) {
        // keep a frame only while an unfinished chain's window holds it
        const held = new Set(chains.filter((c) => c.at !== c.end).flatMap(window));
        cache.retain((frame) => held.has(frame));
      }
      options.onProgress?.(done, total);
    }
  } finally {
    ahead?.close();
  }

  // 3. Fuse: key frames keep their masks, others combine the chains that reached them.
  const masks: Mask[] = new Array(n);
  const sources: MaskSource[][] = new Array(n);
  for (const { index, mask } of keys) {
    masks[index] = mask;
    sources[index] = [{ keyframe: index, weight: 1 }];
  }
  for (let t = 0; t < n; t++) {
    if (masks[t]) continue;
    const reaching = chains.filter((c) => c.out.has(t));
    const weights = reaching.map((c) => (reaching.length === 1 ? 1 : linearWeight(c, t, reaching)));
    masks[t] = weightedSum(
      reaching.map((c) => c.out.get(t) as Mask),
      weights,
    );
    sources[t] = reaching.map((c, i) => ({ keyframe: c.key, weight: weights[i] }));
  }
  return {
    masks,
    sources,
    steps: done,
    featureFrames: cache?.computed ?? ahead?.session.sent ?? 0,
    peakFeatureFrames: cache?.peak ?? ahead?.session.peak ?? 0,
  };
}

/**
 * The lock-step schedule of `chains` (not advanced here): row r holds the steps of the r-th model
 * call, the first `maxBatch` unfinished chains each one frame further. Known in advance, so the
 * match of later rows can run ahead of the carry.
 */
function schedule(chains: readonly Chain[], maxBatch: number, reference: Reference): Step[][] {
  const at = chains.map((c) => c.at);
  const rows: Step[][] = [];
  for (;;) {
    const active = chains.flatMap((c, i) => (at[i] === c.end ? [] : [i])).slice(0, maxBatch);
    if (active.length === 0) return rows;
    rows.push(
      active.map((i) => {
        const chain = chains[i];
        const step = { chain, from: reference === "key" ? chain.key : at[i], to: at[i] + chain.direction };
        at[i] = step.to;
        return step;
      }),
    );
  }
}

/** Weight of chain `c` at frame t between two key frames a < t < b: (b - t)/(b - a) for a's. */
function linearWeight(c: Chain, t: number, reaching: Chain[]): number {
  const other = reaching.find((o) => o !== c) as Chain;
  const span = Math.abs(other.key - c.key);
  return Math.abs(other.key - t) / span;
}

function weightedSum(masks: Mask[], weights: number[]): Mask {
  if (masks.length === 1) return masks[0];
  const { height, width } = masks[0];
  const data = new Float32Array(height * width);
  masks.forEach((m, i) => {
    const w = weights[i];
    for (let p = 0; p < data.length; p++) data[p] += w * m.data[p];
  });
  return { data, height, width };
}

function checkInputs(
  generator: Generator,
  frames: readonly FloatImage[],
  keyframes: readonly KeyFrame[],
): KeyFrame[] {
  if (frames.length === 0) throw invalidArgument("frames", frames, "at least one frame");
  if (keyframes.length === 0) throw invalidArgument("keyframes", keyframes, "at least one key frame");
  const { height: h, width: w } = frames[0];
  frames.forEach((f, i) => {
    checkImage(`frames[${i}]`, f, generator.channels);
    if (f.height !== h || f.width !== w) {
      throw invalidArgument(`frames[${i}] size`, `${f.height}x${f.width}`, `${h}x${w} like frames[0]`);
    }
  });
  const seen = new Set<number>();
  keyframes.forEach((k, i) => {
    if (!Number.isInteger(k.index) || k.index < 0 || k.index >= frames.length) {
      throw invalidArgument(`keyframes[${i}].index`, k.index, `an integer in 0..${frames.length - 1}`);
    }
    if (seen.has(k.index))
      throw invalidArgument(`keyframes[${i}].index`, k.index, "a frame not already a key frame");
    seen.add(k.index);
    checkMask(`keyframes[${i}].mask`, k.mask, h, w);
  });
  return [...keyframes].sort((a, b) => a.index - b.index);
}
