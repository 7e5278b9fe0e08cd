/**
 * An exported StillMotion generator: `loadGenerator(path)` checks the file against the export
 * contract (python-trainer/stillmotion_trainer/export/onnx_export.py) and returns a `Generator`
 * whose `step` is one application of G: (I_t, M^_t) -> (I^_{t+1}, M^_{t+1}) (METHOD.md).
 *
 * A generator exported with `next_frame_input` (python-trainer models/next_frame.py) is
 * G(I_t, M^_t, I_{t+1}): its mask branch also sees the real next frame, through a third ONNX
 * input `next_frame`. `takesNextFrame` says which kind was loaded (from the model's inputs,
 * cross-checked with its generator config); step/stepBatch then need the next frames. One with
 * `mask_refine` also outputs `next_mask_motion`, the mask carried by the measured motion alone
 * (before the appearance correction); still -> video uses it (`stepMotionMask`). A *mask-only*
 * export (`stillmotion export --mask-only`) has no `next_image` output and no image branch: it
 * propagates faster, and `step`/`stepBatch`/still -> video refuse it (`hasImageOutput`). One with
 * the warp image head (`image_head: "warp"`, not mask-only) also outputs `next_field` and
 * `next_residual`, the step (u', r) that moved the image (`hasImageField`, `stepField`); still
 * -> video composes those fields (still-to-video-compose.ts).
 *
 * A *split* export (`stillmotion export --split`, layout "split": split-layout.ts) is a mask-only
 * warp-head generator as a features graph and a step graph. `stepMask`/`stepMaskBatch` work on it
 * as on any model; `frameFeatures` + `stepMaskFromFeatures` let a chain compute each frame's
 * features once (propagateMasks and propagateStream do). One that also carries the motion and
 * carry graphs (`canPipeline`) lets propagation match ahead on a second core (motion-pipeline.ts):
 * `motionPipeline` starts the worker, `carryMasks` runs the mask half of a step here.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

import { createOnnxSession, type OnnxSession, type SessionOptions, type TensorData } from "./backend/onnx.js";
import { BufferPool } from "./buffer-pool.js";
import { Code, InferenceError, invalidArgument } from "./errors.js";
import { checkImage, checkMask, type FloatImage, type Mask } from "./image-types.js";
import { MotionPipeline } from "./motion-pipeline.js";
import { readOnnxHeader } from "./onnx-model-file.js";
import {
  CARRY_GRAPH_KEY,
  checkCarrySignature,
  checkSplitSignature,
  FEATURES_GRAPH_KEY,
  type FrameFeatures,
  featureFeeds,
  featuresGraphBytes,
  MOTION_GRAPH_KEY,
  type ModelLayout,
  modelLayout,
  NEXT_FEATURES_PREFIX,
  perFrame,
  pipelineGraphBytes,
  stackImages,
} from "./split-layout.js";
import type { Field } from "./still-to-video-compose.js";

/** The format tag the exporter writes; a different major format is refused. */
export const GENERATOR_FORMAT = "stillmotion.generator.onnx.v1";
export const INPUT_NAMES = ["image", "mask"] as const;
/** The third input of G(I_t, M^_t, I_{t+1}) (not "next_image": that is an output's name). */
export const NEXT_FRAME_INPUT = "next_frame";
export const OUTPUT_NAMES = ["next_image", "next_mask"] as const;
/** The output a mask-only export leaves out. */
export const IMAGE_OUTPUT = OUTPUT_NAMES[0];
const MASK_OUTPUT = OUTPUT_NAMES[1];
/** The third output of a `mask_refine` generator: the next mask from the motion alone. */
export const MOTION_MASK_OUTPUT = "next_mask_motion";
/** The warp image head's step: the field u' (2 channels, pixels) and the residual r (C). */
export const FIELD_OUTPUTS = ["next_field", "next_residual"] as const;

/** What the file says about itself (its `stillmotion.*` metadata, parsed). */
export interface GeneratorMetadata {
  format: string;
  /** stillmotion_trainer version that exported it. */
  version: string;
  /** "tiny" | "realtime" | "quality" | "custom" | ... */
  preset: string;
  channels: 1 | 3;
  valueRange: "0..1";
  /** The GeneratorConfig (Python dataclass) as a plain object. */
  generatorConfig: Record<string, unknown>;
  /** sha256 of the canonical JSON of generatorConfig (verified on load). */
  configHash: string;
  /** Inputs are padded internally to a multiple of this; any size is accepted. */
  padMultiple: number;
  producer: string;
  opset: number;
  /** Every other `stillmotion.*` entry (step, checkpoint, run_config, ...), key without prefix. */
  extra: Record<string, string>;
}

export interface LoadGeneratorOptions {
  /** onnxruntime session options; defaults favour speed (see backend/onnx.ts). */
  session?: SessionOptions;
}

/** The result of one generator step. */
export interface StepResult {
  image: FloatImage;
  mask: Mask;
}

/** The image branch's step of a warp image head (ONNX `next_field`, `next_residual`). */
export interface FieldStep {
  /** u', (2, H, W) in pixels: next_image = clamp(sample(image, p + u') + r, 0, 1). */
  field: Field;
  /** r, (C, H, W). */
  residual: Float32Array;
}

/** The features graph of a split model and the names of its per-level outputs. */
interface FeaturesGraph {
  session: OnnxSession;
  names: string[];
  /** The graph itself; with `motion` and `carry` when the file has them (the motion pipeline). */
  bytes: Uint8Array;
  pipeline?: { motion: Uint8Array; carry: Uint8Array };
}

/** The carry graph's session (this thread's half of a pipelined step) and its motion input. */
interface CarryGraph {
  session: OnnxSession;
  motionInput: string;
}

export class Generator {
  /** Reused batch buffers of the split model's calls. */
  private readonly buffers = new BufferPool();
  private pipeline: MotionPipeline | undefined;
  private carry: Promise<CarryGraph> | undefined;
  /** The features graph on this thread with the carry's threads (the pipeline's FeaturesHere). */
  private featuresHere: Promise<OnnxSession> | undefined;

  /** @internal use loadGenerator */
  constructor(
    readonly path: string,
    readonly metadata: GeneratorMetadata,
    private readonly session: OnnxSession,
    private readonly features?: FeaturesGraph,
  ) {}

  /**
   * True for a split file with the motion and carry graphs: propagation can match on one core
   * while it carries masks on another (motion-pipeline.ts).
   */
  get canPipeline(): boolean {
    return this.features?.pipeline !== undefined;
  }

  /**
   * Intra-op threads of the pipeline's two halves, from the session's: the match in the worker
   * gets half (at least 1), the carry here the rest (at least 1). 2 cores: one each.
   */
  get pipelineThreads(): { motion: number; carry: number } {
    const total = this.session.options.intraOpNumThreads;
    const motion = Math.max(1, Math.floor(total / 2));
    return { motion, carry: Math.max(1, total - motion) };
  }

  /**
   * Whether a propagation runs pipelined: `requested` (propagateMasks' and propagateStream's
   * `pipeline` option) or, by default, when the model can and the session has 2 or more
   * intra-op threads to share. INVALID_ARGUMENT for `true` on a model that cannot.
   */
  pipelines(requested?: boolean): boolean {
    if (requested === true && !this.canPipeline) {
      throw invalidArgument(
        "pipeline",
        true,
        "false for a model without motion and carry graphs (export --split)",
      );
    }
    return requested ?? (this.canPipeline && this.session.options.intraOpNumThreads >= 2);
  }

  /** The motion worker of this generator, started on first use and ended by `dispose`. */
  motionPipeline(): MotionPipeline {
    const graphs = this.features?.pipeline;
    if (this.features === undefined || graphs === undefined) throw this.noPipeline();
    this.pipeline ??= new MotionPipeline(
      {
        file: this.path,
        featuresGraph: this.features.bytes,
        motionGraph: graphs.motion,
        motionOutput: motionOutputName(this.features.names),
        session: this.pipelineSession(this.pipelineThreads.motion),
      },
      (frame) => this.pipelineFeatures(frame),
    );
    return this.pipeline;
  }

  /** A frame's features for the motion worker, computed on this thread with the carry's
   * session options, each level copied into a buffer of its own (the pipeline moves it). */
  private async pipelineFeatures(frame: FloatImage): Promise<Record<string, TensorData>> {
    const features = this.featuresGraph();
    this.featuresHere ??= createOnnxSession(
      features.bytes,
      `${this.path} (features graph)`,
      this.pipelineSession(this.pipelineThreads.carry),
    );
    const session = await this.featuresHere;
    const { data, channels, height, width } = frame;
    const out = await session.run({ image: { data, dims: [1, channels, height, width] } });
    const own: Record<string, TensorData> = {};
    for (const name of features.names) own[name] = { data: out[name].data.slice(), dims: out[name].dims };
    return own;
  }

  /** Session options of one half of the pipeline: the generator's, with `threads` intra-op
   * threads and without free-dimension overrides (the halves' graphs have symbols of their own,
   * height_s2, ...). */
  private pipelineSession(threads: number): SessionOptions {
    return { ...this.session.options, freeDimensionOverrides: undefined, intraOpNumThreads: threads };
  }

  /**
   * The mask half of split steps: entry b is the step's next mask from `levels[b]` (the motion
   * graph's output for I_t -> I_{t+1}, from the motion pipeline), `nextFrames[b]` = I_{t+1} and
   * `masks[b]` = M^_t. Equal to stepMaskFromFeatures on the same frames. `motion` fetches
   * `next_mask_motion` instead.
   */
  async carryMasks(
    levels: readonly TensorData[],
    nextFrames: readonly FloatImage[],
    masks: readonly Mask[],
    motion = false,
  ): Promise<Mask[]> {
    const b = masks.length;
    if (b === 0 || levels.length !== b || nextFrames.length !== b) {
      throw invalidArgument(
        "levels/nextFrames/masks",
        `${levels.length}/${nextFrames.length}/${b}`,
        "the same non-zero count",
      );
    }
    const { height: h, width: w } = this.checkNextFrames(nextFrames, masks);
    const carry = await this.carryGraph();
    const output = motion && this.hasMotionMask ? MOTION_MASK_OUTPUT : MASK_OUTPUT;
    const taken: Float32Array[] = [];
    let out: Record<string, TensorData>;
    const started = performance.now();
    try {
      const stack = (list: readonly Float32Array[]) => this.buffers.stack(list, taken);
      out = await carry.session.run(
        {
          [carry.motionInput]: {
            data: stack(levels.map((l) => l.data)),
            dims: [b, ...levels[0].dims.slice(1)],
          },
          [NEXT_FRAME_INPUT]: stackImages(nextFrames, this.buffers, taken),
          mask: { data: stack(masks.map((m) => m.data)), dims: [b, 1, h, w] },
        },
        [output],
      );
    } finally {
      for (const buffer of taken) this.buffers.give(buffer);
    }
    this.pipeline?.noteCarry((performance.now() - started) / b);
    checkFinite(output, out[output], this.path);
    const data = out[output].data;
    return masks.map((_, i) => ({ data: data.subarray(i * h * w, (i + 1) * h * w), height: h, width: w }));
  }

  /** Every next frame of the model's channels and nextFrames[0]'s size, every mask that size. */
  private checkNextFrames(nextFrames: readonly FloatImage[], masks: readonly Mask[]) {
    const { height, width } = nextFrames[0];
    nextFrames.forEach((f, i) => {
      checkImage(`nextFrames[${i}]`, f, this.channels);
      if (f.height !== height || f.width !== width) {
        throw invalidArgument(
          `nextFrames[${i}] size`,
          `${f.height}x${f.width}`,
          `${height}x${width} like nextFrames[0]`,
        );
      }
      checkMask(`masks[${i}]`, masks[i], height, width);
    });
    return { height, width };
  }

  private carryGraph(): Promise<CarryGraph> {
    const bytes = this.features?.pipeline?.carry;
    if (this.features === undefined || bytes === undefined) return Promise.reject(this.noPipeline());
    const motionInput = motionOutputName(this.features.names);
    const options = this.pipelineSession(this.pipelineThreads.carry);
    this.carry ??= createOnnxSession(bytes, `${this.path} (carry graph)`, options).then(async (session) => {
      try {
        checkCarrySignature(session, this.session.outputs, motionInput, this.path);
        return { session, motionInput };
      } catch (err) {
        await session.release();
        throw err;
      }
    });
    return this.carry;
  }

  private noPipeline(): InferenceError {
    return new InferenceError(
      Code.FAILED_PRECONDITION,
      "this model has no motion and carry graphs: export it again with --split " +
        "(a split export from before the motion pipeline has only features and step)",
      { file: this.path },
    );
  }

  /** "split" for a features + step export (frameFeatures works), "single" otherwise. */
  get layout(): ModelLayout {
    return this.features === undefined ? "single" : "split";
  }

  get channels(): 1 | 3 {
    return this.metadata.channels;
  }

  /** True for G(I_t, M^_t, I_{t+1}): the model has the `next_frame` input. */
  get takesNextFrame(): boolean {
    return this.metadata.generatorConfig.next_frame_input === true;
  }

  /** True when the model outputs `next_mask_motion` (generator config `mask_refine`). */
  get hasMotionMask(): boolean {
    return this.metadata.generatorConfig.mask_refine === true;
  }

  /** False for a mask-only export: no `next_image` output (propagation only). */
  get hasImageOutput(): boolean {
    return !maskOnly(this.metadata); // the loader checked the outputs against this
  }

  /** True when the model outputs `next_field` and `next_residual` (warp image head). */
  get hasImageField(): boolean {
    return imageField(this.metadata); // the loader checked the outputs against this
  }

  /**
   * The image branch's step at (I_t, M^_t): the field and residual that move I_t to I^_{t+1}
   * (warp image head only). The branch never reads `next_frame`; the image is passed there.
   */
  async stepField(image: FloatImage, mask: Mask): Promise<FieldStep> {
    if (!this.hasImageField) {
      throw new InferenceError(
        Code.FAILED_PRECONDITION,
        `this model has no ${FIELD_OUTPUTS.join("/")} outputs (generator config image_head=` +
          `${this.metadata.generatorConfig.image_head}${maskOnly(this.metadata) ? ", mask-only" : ""}); ` +
          'composed still -> video needs image_head "warp", exported without --mask-only',
        { file: this.path },
      );
    }
    const next = this.takesNextFrame ? [image] : undefined;
    const { h, w, out } = await this.runBatch([image], [mask], next, FIELD_OUTPUTS);
    return {
      field: { data: out.next_field.data, height: h, width: w },
      residual: out.next_residual.data,
    };
  }

  /** The onnxruntime options in effect (defaults merged with overrides). */
  get sessionOptions(): OnnxSession["options"] {
    return this.session.options;
  }

  /**
   * One step of G on a single frame: (I_t, M^_t [, I_{t+1}]) -> (I^_{t+1}, M^_{t+1}).
   * `nextFrame` (the real I_{t+1}) is required when `takesNextFrame`, refused otherwise.
   */
  async step(image: FloatImage, mask: Mask, nextFrame?: FloatImage): Promise<StepResult> {
    const [result] = await this.stepBatch([image], [mask], nextFrame && [nextFrame]);
    return result;
  }

  /** Only the next mask (Fig. 6: predicted images are discarded). */
  async stepMask(image: FloatImage, mask: Mask, nextFrame?: FloatImage): Promise<Mask> {
    return (await this.stepMaskBatch([image], [mask], nextFrame && [nextFrame]))[0];
  }

  /**
   * The next mask carried by the measured motion alone (`next_mask_motion`), without the
   * appearance correction of a `mask_refine` model; for other models the same as `stepMask`.
   * Still -> video uses it: the correction is made for real frames, and on generated ones it
   * grows the mask (docs/recipes.md, "Still -> video").
   */
  async stepMotionMask(image: FloatImage, mask: Mask, nextFrame?: FloatImage): Promise<Mask> {
    const output = this.hasMotionMask ? MOTION_MASK_OUTPUT : MASK_OUTPUT;
    return (await this.maskBatch(output, [image], [mask], nextFrame && [nextFrame]))[0];
  }

  /** G applied to independent (image, mask [, next frame]) triples of one size in one run. */
  async stepBatch(
    images: readonly FloatImage[],
    masks: readonly Mask[],
    nextFrames?: readonly FloatImage[],
  ): Promise<StepResult[]> {
    if (!this.hasImageOutput) {
      throw new InferenceError(
        Code.FAILED_PRECONDITION,
        "this model was exported mask-only (no next_image output): it propagates masks " +
          "(stepMask, propagateMasks); export it without --mask-only to predict frames",
        { file: this.path },
      );
    }
    const { h, w, out } = await this.runBatch(images, masks, nextFrames);
    const image = out.next_image.data;
    const mask = out.next_mask.data;
    const c = this.channels;
    return images.map((_, b) => ({
      image: { data: image.subarray(b * c * h * w, (b + 1) * c * h * w), channels: c, height: h, width: w },
      mask: { data: mask.subarray(b * h * w, (b + 1) * h * w), height: h, width: w },
    }));
  }

  /** Like stepBatch, next masks only. */
  async stepMaskBatch(
    images: readonly FloatImage[],
    masks: readonly Mask[],
    nextFrames?: readonly FloatImage[],
  ): Promise<Mask[]> {
    return this.maskBatch(MASK_OUTPUT, images, masks, nextFrames);
  }

  /**
   * The matching features of each frame (split models only), one batched run of the features
   * graph. They depend on the frame alone: compute them once per frame and pass them to
   * `stepMaskFromFeatures` in every step the frame takes part in.
   */
  async frameFeatures(frames: readonly FloatImage[]): Promise<FrameFeatures[]> {
    return (await this.frameFeaturesBatch(frames)).frames;
  }

  /**
   * frameFeatures, also returning the batch's output tensors (the frames' features are views
   * into them). `into`: the outputs of an earlier call with as many frames of the same size,
   * no longer needed, to be overwritten instead of allocating new ones (FeatureCache recycles).
   */
  async frameFeaturesBatch(
    frames: readonly FloatImage[],
    into?: Record<string, TensorData>,
  ): Promise<{ frames: FrameFeatures[]; outputs: Record<string, TensorData> }> {
    const graph = this.featuresGraph();
    if (frames.length === 0) throw invalidArgument("frames", "0 frames", "at least one frame");
    const { height: h, width: w } = frames[0];
    frames.forEach((f, i) => {
      checkImage(`frames[${i}]`, f, this.channels);
      if (f.height !== h || f.width !== w) {
        throw invalidArgument(`frames[${i}] size`, `${f.height}x${f.width}`, `${h}x${w} like frames[0]`);
      }
    });
    if (into !== undefined) checkInto(into, graph.names, frames.length, h, w);
    // not scanned for NaN here (megabytes per frame): the step's mask output is, and a non-finite
    // feature reaches it
    const taken: Float32Array[] = [];
    try {
      const feeds = { image: stackImages(frames, this.buffers, taken) };
      const out = await graph.session.run(feeds, undefined, into);
      return { frames: perFrame(out, graph.names, frames.length), outputs: out };
    } finally {
      for (const buffer of taken) this.buffers.give(buffer);
    }
  }

  /**
   * Next masks of a split model from features computed by `frameFeatures`: entry b is
   * G(I_t, M^_t, I_{t+1}).mask with `features[b]` of I_t, `nextFeatures[b]` of I_{t+1} =
   * `nextFrames[b]`, `masks[b]` = M^_t. `motion` fetches `next_mask_motion` instead.
   */
  async stepMaskFromFeatures(
    features: readonly FrameFeatures[],
    masks: readonly Mask[],
    nextFeatures: readonly FrameFeatures[],
    nextFrames: readonly FloatImage[],
    motion = false,
  ): Promise<Mask[]> {
    const graph = this.featuresGraph();
    const b = masks.length;
    if (b === 0 || features.length !== b || nextFeatures.length !== b || nextFrames.length !== b) {
      throw invalidArgument(
        "features/masks/nextFeatures/nextFrames",
        `${features.length}/${b}/${nextFeatures.length}/${nextFrames.length}`,
        "the same non-zero count",
      );
    }
    const { height: h, width: w } = this.checkNextFrames(nextFrames, masks);
    const output = motion && this.hasMotionMask ? MOTION_MASK_OUTPUT : MASK_OUTPUT;
    // batches are stacked into pooled buffers, given back once the run has read them
    const taken: Float32Array[] = [];
    let out: Record<string, TensorData>;
    try {
      const feeds: Record<string, TensorData> = {
        ...featureFeeds(features, graph.names, "", this.buffers, taken),
        ...featureFeeds(nextFeatures, graph.names, NEXT_FEATURES_PREFIX, this.buffers, taken),
        [NEXT_FRAME_INPUT]: stackImages(nextFrames, this.buffers, taken),
        mask: {
          data: this.buffers.stack(
            masks.map((m) => m.data),
            taken,
          ),
          dims: [b, 1, h, w],
        },
      };
      out = await this.session.run(feeds, [output]);
    } finally {
      for (const buffer of taken) this.buffers.give(buffer);
    }
    checkFinite(output, out[output], this.path);
    const data = out[output].data;
    return masks.map((_, i) => ({ data: data.subarray(i * h * w, (i + 1) * h * w), height: h, width: w }));
  }

  private featuresGraph(): FeaturesGraph {
    if (this.features === undefined) {
      throw new InferenceError(
        Code.FAILED_PRECONDITION,
        "this model is a single graph (no features graph): use stepMask / stepMaskBatch, or " +
          "export it with --split",
        { file: this.path },
      );
    }
    return this.features;
  }

  private async maskBatch(
    output: string,
    images: readonly FloatImage[],
    masks: readonly Mask[],
    nextFrames?: readonly FloatImage[],
  ): Promise<Mask[]> {
    if (this.features !== undefined) {
      // a split model: both frames' features in one run, then the step
      if (nextFrames === undefined || nextFrames.length !== images.length || images.length === 0) {
        throw invalidArgument(
          "nextFrames",
          nextFrames === undefined ? "none" : `${nextFrames.length} frame(s)`,
          `${images.length}, the real next frame of every input: this generator is G(I_t, M_t, I_{t+1})`,
        );
      }
      const all = await this.frameFeatures([...images, ...nextFrames]);
      const n = images.length;
      return this.stepMaskFromFeatures(
        all.slice(0, n),
        masks,
        all.slice(n),
        nextFrames,
        output !== MASK_OUTPUT,
      );
    }
    const { h, w, out } = await this.runBatch(images, masks, nextFrames, [output]);
    const mask = out[output].data;
    return images.map((_, b) => ({ data: mask.subarray(b * h * w, (b + 1) * h * w), height: h, width: w }));
  }

  /** Free the onnxruntime session; the generator is unusable afterwards. */
  async dispose(): Promise<void> {
    await this.pipeline?.close();
    const carry = await this.carry?.catch(() => undefined);
    await carry?.session.release();
    await (await this.featuresHere?.catch(() => undefined))?.release();
    await this.session.release();
    await this.features?.session.release();
  }

  private async runBatch(
    images: readonly FloatImage[],
    masks: readonly Mask[],
    nextFrames: readonly FloatImage[] | undefined,
    fetch?: readonly string[],
  ): Promise<{ h: number; w: number; out: Record<string, TensorData> }> {
    if (images.length === 0 || images.length !== masks.length) {
      throw invalidArgument("images/masks", `${images.length}/${masks.length}`, "the same non-zero count");
    }
    const c = this.channels;
    const { height: h, width: w } = images[0];
    images.forEach((im, i) => {
      checkImage(`images[${i}]`, im, c);
      if (im.height !== h || im.width !== w) {
        throw invalidArgument(`images[${i}] size`, `${im.height}x${im.width}`, `${h}x${w} like images[0]`);
      }
      checkMask(`masks[${i}]`, masks[i], h, w);
    });
    if (this.takesNextFrame && nextFrames === undefined) {
      throw invalidArgument(
        "nextFrames",
        "none",
        "the real next frame of every input: this generator is G(I_t, M_t, I_{t+1})",
      );
    }
    if (!this.takesNextFrame && nextFrames !== undefined) {
      throw invalidArgument(
        "nextFrames",
        `${nextFrames.length} frame(s)`,
        "none: this generator is G(I_t, M_t)",
      );
    }
    const b = images.length;
    const batch = (list: readonly { data: Float32Array }[]) =>
      b === 1 ? list[0].data : concat(list.map((x) => x.data));
    const feeds: Record<string, TensorData> = {
      image: { data: batch(images), dims: [b, c, h, w] },
      mask: { data: batch(masks), dims: [b, 1, h, w] },
    };
    if (nextFrames !== undefined) {
      if (nextFrames.length !== b) {
        throw invalidArgument("nextFrames", `${nextFrames.length} frame(s)`, `${b}, one per image`);
      }
      nextFrames.forEach((f, i) => {
        checkImage(`nextFrames[${i}]`, f, c);
        if (f.height !== h || f.width !== w) {
          throw invalidArgument(
            `nextFrames[${i}] size`,
            `${f.height}x${f.width}`,
            `${h}x${w} like images[0]`,
          );
        }
      });
      feeds[NEXT_FRAME_INPUT] = { data: batch(nextFrames), dims: [b, c, h, w] };
    }
    const out = await this.session.run(feeds, fetch);
    for (const [name, tensor] of Object.entries(out)) checkFinite(name, tensor, this.path);
    return { h, w, out };
  }
}

/** The motion graph's output: motion_s<stride of the finest level> (the last feature name). */
function motionOutputName(featureNames: readonly string[]): string {
  const finest = featureNames[featureNames.length - 1];
  return `motion_s${finest.slice(finest.lastIndexOf("_s") + 2)}`;
}

/** `into` must hold, per level name features_s<stride>, n frames of ceil(h / s) x ceil(w / s)
 * (the embeddings pool with ceil_mode: a partial border cell is kept). */
function checkInto(
  into: Record<string, TensorData>,
  names: readonly string[],
  n: number,
  h: number,
  w: number,
): void {
  for (const name of names) {
    const stride = Number(name.slice(name.lastIndexOf("_s") + 2));
    const want = [n, Math.ceil(h / stride), Math.ceil(w / stride)];
    const dims = into[name]?.dims ?? [];
    const got = [dims[0], dims[2], dims[3]];
    const size = dims.reduce((a, d) => a * d, 1);
    if (got.some((d, i) => d !== want[i]) || into[name].data.length !== size) {
      throw invalidArgument(
        `into.${name}`,
        `[${dims.join(", ")}]`,
        `[${n}, channels, ${want[1]}, ${want[2]}]`,
      );
    }
  }
}

/**
 * Refuse an output holding NaN or ±Infinity. Thresholding NaN gives an empty mask and clamping it
 * a black frame, so a broken model (weights of a diverged run) would otherwise "succeed" silently.
 */
function checkFinite(name: string, tensor: TensorData, file: string): void {
  const data = tensor.data;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return;
  const perItem = data.length / Math.max(1, tensor.dims[0] ?? 1);
  throw new InferenceError(
    Code.DATA_LOSS,
    `model output "${name}" has ${bad} non-finite value(s) (NaN or Infinity) of ${data.length}, ` +
      `first ${data[first]} in batch item ${Math.floor(first / perItem)}; expected finite numbers ` +
      "(the weights are likely broken, e.g. exported from a diverged run)",
    { file, reason: "non_finite_output" },
  );
}

/**
 * Load an exported generator. Errors (InferenceError, naming the file):
 * NOT_FOUND no such file; DATA_LOSS not ONNX / corrupt / config hash mismatch;
 * FAILED_PRECONDITION not a StillMotion generator, unsupported format, wrong inputs/outputs.
 */
export async function loadGenerator(path: string, options: LoadGeneratorOptions = {}): Promise<Generator> {
  if (typeof path !== "string" || path.length === 0) throw invalidArgument("path", path, "a model file path");
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code === "ENOENT" ? Code.NOT_FOUND : Code.UNAVAILABLE;
    throw new InferenceError(
      code,
      code === Code.NOT_FOUND ? "no such model file" : "cannot read the model file",
      {
        file: path,
        cause,
      },
    );
  }
  const header = readOnnxHeader(bytes, path);
  const opset = header.opsets.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;
  const metadata = parseMetadata(header.metadata, opset, path);
  const layout = modelLayout(metadata.extra, path);
  let features: FeaturesGraph | undefined;
  if (layout === "split") {
    const graph = featuresGraphBytes(metadata.extra, path);
    const pipeline = pipelineGraphBytes(metadata.extra, path);
    // kilobytes to megabytes of base64: not for logs
    for (const key of [FEATURES_GRAPH_KEY, MOTION_GRAPH_KEY, CARRY_GRAPH_KEY]) delete metadata.extra[key];
    features = {
      session: await createOnnxSession(graph, `${path} (features graph)`, options.session),
      names: [],
      bytes: graph,
      pipeline,
    };
  }
  let session: OnnxSession;
  try {
    session = await createOnnxSession(bytes, path, options.session);
  } catch (err) {
    await features?.session.release();
    throw err;
  }
  try {
    // the model's own tensors decide, and must agree with its config: a third input
    // `next_frame` exactly with next_frame_input, a third output `next_mask_motion` with mask_refine
    const nextFrame = optionalTensor(
      session.inputs,
      NEXT_FRAME_INPUT,
      "input",
      metadata,
      "next_frame_input",
      path,
    );
    const motion = optionalTensor(
      session.outputs,
      MOTION_MASK_OUTPUT,
      "output",
      metadata,
      "mask_refine",
      path,
    );
    // next_image is absent exactly in a mask-only export, which its metadata declares
    const image = !maskOnly(metadata);
    if (features !== undefined) {
      if (!nextFrame || image || metadata.generatorConfig.mask_head !== "warp") {
        throw new InferenceError(
          Code.FAILED_PRECONDITION,
          "split model: expected a mask-only G(I_t, M_t, I_{t+1}) with the warp mask head " +
            `(next_frame_input=${nextFrame}, mask_only=${!image}, mask_head=${metadata.generatorConfig.mask_head})`,
          { file: path },
        );
      }
      const extra = [NEXT_FRAME_INPUT, "mask"];
      features.names = checkSplitSignature(features.session, session.inputs, extra, metadata.channels, path);
    }
    checkSignature(
      session,
      metadata.channels,
      nextFrame,
      motion,
      image,
      path,
      features === undefined,
      imageField(metadata),
    );
  } catch (err) {
    await session.release();
    await features?.session.release();
    throw err;
  }
  return new Generator(path, metadata, session, features);
}

/** sha256 of the canonical JSON (sorted keys, no spaces) of a generator config, as in Python. */
export function configHash(config: Record<string, unknown>): string {
  return createHash("sha256").update(canonicalJson(config)).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

function parseMetadata(raw: Record<string, string>, opset: number, file: string): GeneratorMetadata {
  const get = (key: string): string => {
    const v = raw[`stillmotion.${key}`];
    if (v === undefined) {
      throw new InferenceError(
        Code.FAILED_PRECONDITION,
        `not a StillMotion generator: metadata "stillmotion.${key}" is missing ` +
          `(export models with \`python -m stillmotion_trainer export\`)`,
        { file },
      );
    }
    return v;
  };
  const format = get("format");
  if (format !== GENERATOR_FORMAT) {
    throw new InferenceError(
      Code.FAILED_PRECONDITION,
      `unsupported generator format "${format}". Should be one of: ${GENERATOR_FORMAT}`,
      { file },
    );
  }
  const channels = Number(get("channels"));
  if (channels !== 1 && channels !== 3) {
    throw new InferenceError(
      Code.DATA_LOSS,
      `metadata "stillmotion.channels" is ${get("channels")}, expected 1 or 3`,
      {
        file,
      },
    );
  }
  const valueRange = get("value_range");
  if (valueRange !== "0..1") {
    throw new InferenceError(
      Code.FAILED_PRECONDITION,
      `value range "${valueRange}" unsupported. Should be: 0..1`,
      {
        file,
      },
    );
  }
  let generatorConfig: Record<string, unknown>;
  try {
    generatorConfig = JSON.parse(get("generator_config"));
  } catch (cause) {
    throw new InferenceError(Code.DATA_LOSS, `metadata "stillmotion.generator_config" is not JSON`, {
      file,
      cause,
    });
  }
  const hash = get("config_hash");
  if (configHash(generatorConfig) !== hash) {
    throw new InferenceError(
      Code.DATA_LOSS,
      `metadata "stillmotion.config_hash" ${hash.slice(0, 12)}... does not match the generator config ` +
        `(${configHash(generatorConfig).slice(0, 12)}...): the metadata was altered`,
      { file },
    );
  }
  const known = new Set(["format", "version", "preset", "channels", "value_range", "generator_config"]);
  for (const k of ["config_hash", "pad_multiple", "producer"]) known.add(k);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    const name = k.startsWith("stillmotion.") ? k.slice("stillmotion.".length) : undefined;
    if (name !== undefined && !known.has(name)) extra[name] = v;
  }
  return {
    format,
    version: get("version"),
    preset: get("preset"),
    channels,
    valueRange,
    generatorConfig,
    configHash: hash,
    padMultiple: Number(get("pad_multiple")),
    producer: get("producer"),
    opset,
    extra,
  };
}

/** Whether the model has the optional tensor `name`; throws unless its config flag agrees. */
function optionalTensor(
  list: readonly { name: string }[],
  name: string,
  kind: "input" | "output",
  metadata: GeneratorMetadata,
  flag: string,
  file: string,
): boolean {
  const present = list.some((v) => v.name === name);
  const declared = metadata.generatorConfig[flag] === true;
  if (present !== declared) {
    throw new InferenceError(
      Code.FAILED_PRECONDITION,
      `model ${kind}s ${present ? "include" : "lack"} "${name}" but its generator config says ${flag}=${declared}`,
      { file },
    );
  }
  return present;
}

/** A warp image head exported with its image branch: outputs next_field and next_residual. */
function imageField(metadata: GeneratorMetadata): boolean {
  return metadata.generatorConfig.image_head === "warp" && !maskOnly(metadata);
}

/** The exporter's `stillmotion.mask_only` = "true": no next_image output, no image branch. */
function maskOnly(metadata: GeneratorMetadata): boolean {
  return metadata.extra.mask_only === "true";
}

function checkSignature(
  session: OnnxSession,
  channels: number,
  nextFrame: boolean,
  motionMask: boolean,
  imageOutput: boolean,
  file: string,
  checkInputs = true,
  field = false,
): void {
  const inputs = nextFrame ? [...INPUT_NAMES, NEXT_FRAME_INPUT] : [...INPUT_NAMES];
  const outputs = [
    ...OUTPUT_NAMES,
    ...(motionMask ? [MOTION_MASK_OUTPUT] : []),
    ...(field ? FIELD_OUTPUTS : []),
  ].filter((name) => imageOutput || name !== IMAGE_OUTPUT);
  const width = (name: string) =>
    name === "next_field"
      ? 2
      : name === "image" || name === NEXT_FRAME_INPUT || name === IMAGE_OUTPUT || name === "next_residual"
        ? channels
        : 1;
  const expect = [
    { kind: "input", list: session.inputs, names: inputs, channels: inputs.map(width) },
    { kind: "output", list: session.outputs, names: outputs, channels: outputs.map(width) },
  ].filter((e) => checkInputs || e.kind === "output");
  for (const { kind, list, names, channels: chans } of expect) {
    const got = list.map((v) => v.name);
    const missing = names.filter((n) => !got.includes(n));
    if (missing.length > 0 || got.length !== names.length) {
      throw new InferenceError(
        Code.FAILED_PRECONDITION,
        `model ${kind}s are [${got.join(", ")}], expected [${names.join(", ")}]` +
          (missing.length ? ` (missing: ${missing.join(", ")})` : ""),
        { file },
      );
    }
    names.forEach((name, i) => {
      const info = list.find((v) => v.name === name);
      const shape = info?.shape ?? [];
      if (info?.type !== "float32" || shape.length !== 4 || shape[1] !== chans[i]) {
        throw new InferenceError(
          Code.FAILED_PRECONDITION,
          `model ${kind} "${name}" is ${info?.type} [${shape.join(", ")}], expected float32 [batch, ${chans[i]}, height, width]`,
          { file },
        );
      }
    });
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
