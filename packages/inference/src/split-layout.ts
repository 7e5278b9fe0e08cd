/**
 * The two layouts of an exported generator file, chosen by its metadata `stillmotion.layout`:
 *
 * - "single" (no `stillmotion.layout`, every file before the split existed): one graph,
 *   (I_t, M^_t [, I_{t+1}]) -> masks [and image];
 * - "split" (`stillmotion export --split`, python-trainer export/split_export.py): a warp-head
 *   generator as two graphs. The file's own graph is the **step**, (features of I_t, features of
 *   I_{t+1}, I_{t+1}, M^_t) -> next_mask [, next_mask_motion]; the **features** graph,
 *   image -> features_s<stride> per matching level, travels base64-encoded in the metadata
 *   `stillmotion.features_graph`. A frame's features depend on that frame alone, so a chain
 *   computes them once per frame instead of twice (as I_{t+1}, then as I_t). Files exported
 *   since the motion pipeline (motion-pipeline.ts) also carry the step cut in two, each graph
 *   base64-encoded in the metadata: `stillmotion.motion_graph`, (features of I_t, features of
 *   I_{t+1}) -> motion_s<k> (the displacement at the finest matching level), which never reads a
 *   mask, and `stillmotion.carry_graph`, (motion_s<k>, I_{t+1}, M^_t) -> the step's outputs.
 *
 * Any other layout value is refused, naming the ones this library reads.
 */
import type { TensorData, ValueInfo } from "./backend/onnx.js";
import type { BufferPool } from "./buffer-pool.js";
import { Code, InferenceError } from "./errors.js";
import type { FloatImage } from "./image-types.js";

export const MODEL_LAYOUTS = ["single", "split"] as const;
export type ModelLayout = (typeof MODEL_LAYOUTS)[number];

/** Metadata keys (without the `stillmotion.` prefix) of a split file. */
export const LAYOUT_KEY = "layout";
export const FEATURES_GRAPH_KEY = "features_graph";
export const MOTION_GRAPH_KEY = "motion_graph";
export const CARRY_GRAPH_KEY = "carry_graph";
const FEATURE_PREFIX = "features_s";
const NEXT_PREFIX = "next_";

/** One frame's matching features: one tensor per level, coarse to fine, batch 1. */
export interface FrameFeatures {
  readonly levels: readonly TensorData[];
}

/** The layout a file declares; FAILED_PRECONDITION for a value this library does not know. */
export function modelLayout(extra: Record<string, string>, file: string): ModelLayout {
  const value = extra[LAYOUT_KEY];
  if (value === undefined) return "single";
  if (value === "single" || value === "split") return value;
  throw new InferenceError(
    Code.FAILED_PRECONDITION,
    `unknown model layout "${value}" (metadata "stillmotion.layout"). Should be one of: ` +
      `${MODEL_LAYOUTS.join(", ")} (a newer exporter? update @stillmotion/inference)`,
    { file },
  );
}

/** The features graph's bytes, decoded from the metadata of a split file. */
export function featuresGraphBytes(extra: Record<string, string>, file: string): Uint8Array {
  const encoded = extra[FEATURES_GRAPH_KEY];
  if (!encoded) {
    throw new InferenceError(
      Code.DATA_LOSS,
      'a split model without its features graph (metadata "stillmotion.features_graph" is missing)',
      { file },
    );
  }
  return new Uint8Array(Buffer.from(encoded, "base64"));
}

/** The motion and carry graphs' bytes of a split file; undefined for a file without them
 * (exported before they existed); DATA_LOSS for a file with only one. */
export function pipelineGraphBytes(
  extra: Record<string, string>,
  file: string,
): { motion: Uint8Array; carry: Uint8Array } | undefined {
  const motion = extra[MOTION_GRAPH_KEY];
  const carry = extra[CARRY_GRAPH_KEY];
  if (motion === undefined && carry === undefined) return undefined;
  if (!motion || !carry) {
    const absent = motion ? CARRY_GRAPH_KEY : MOTION_GRAPH_KEY;
    throw new InferenceError(
      Code.DATA_LOSS,
      `a split model with only one of its motion and carry graphs (metadata "stillmotion.${absent}" is missing)`,
      { file },
    );
  }
  const decode = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"));
  return { motion: decode(motion), carry: decode(carry) };
}

/**
 * The carry graph's inputs must be [`motion` (motion_s<stride of the finest level>), next_frame,
 * mask] and its outputs the step's. FAILED_PRECONDITION naming what differs.
 */
export function checkCarrySignature(
  carry: { inputs: readonly ValueInfo[]; outputs: readonly ValueInfo[] },
  stepOutputs: readonly ValueInfo[],
  motion: string,
  file: string,
): void {
  const got = `[${carry.inputs.map((v) => v.name).join(", ")}] -> [${carry.outputs.map((v) => v.name).join(", ")}]`;
  const want = `[${motion}, next_frame, mask] -> [${stepOutputs.map((v) => v.name).join(", ")}]`;
  if (got !== want) {
    throw new InferenceError(
      Code.FAILED_PRECONDITION,
      `split model: carry graph is ${got}, expected ${want}`,
      {
        file,
      },
    );
  }
}

/**
 * The feature tensors' names from the features graph's outputs (features_s8, features_s2, ...),
 * checked against the step graph's inputs: features_s*, next_features_s* (same levels), then
 * `extra` (next_frame, mask). FAILED_PRECONDITION naming what differs.
 */
export function checkSplitSignature(
  features: { inputs: readonly ValueInfo[]; outputs: readonly ValueInfo[] },
  stepInputs: readonly ValueInfo[],
  extra: readonly string[],
  channels: number,
  file: string,
): string[] {
  const names = features.outputs.map((v) => v.name);
  const fail = (what: string) => {
    throw new InferenceError(Code.FAILED_PRECONDITION, `split model: ${what}`, { file });
  };
  const image = features.inputs;
  if (image.length !== 1 || image[0].name !== "image" || image[0].shape[1] !== channels) {
    fail(
      `features graph inputs are [${image.map((v) => `${v.name} [${v.shape.join(", ")}]`).join(", ")}], ` +
        `expected [image [batch, ${channels}, height, width]]`,
    );
  }
  if (names.length === 0 || !names.every((n) => n.startsWith(FEATURE_PREFIX))) {
    fail(`features graph outputs are [${names.join(", ")}], expected features_s<stride> per level`);
  }
  const expected = [...names, ...names.map((n) => NEXT_PREFIX + n), ...extra];
  const got = stepInputs.map((v) => v.name);
  if (got.length !== expected.length || got.some((n, i) => n !== expected[i])) {
    fail(`step graph inputs are [${got.join(", ")}], expected [${expected.join(", ")}]`);
  }
  for (const v of [...features.outputs, ...stepInputs]) {
    if (v.type !== "float32" || v.shape.length !== 4) {
      fail(`tensor "${v.name}" is ${v.type} [${v.shape.join(", ")}], expected float32 of rank 4`);
    }
  }
  return names;
}

/** Split the outputs of one batched features run into per-frame features (no copies). */
export function perFrame(
  out: Record<string, TensorData>,
  names: readonly string[],
  count: number,
): FrameFeatures[] {
  return Array.from({ length: count }, (_, b) => ({
    levels: names.map((name) => {
      const t = out[name];
      const size = t.data.length / count;
      return { data: t.data.subarray(b * size, (b + 1) * size), dims: [1, ...t.dims.slice(1)] };
    }),
  }));
}

/**
 * The step graph's feature feeds for a batch: `prefix` + each name, frames stacked on axis 0
 * (into buffers of `pool`, recorded in `taken` to be given back after the run).
 */
export function featureFeeds(
  list: readonly FrameFeatures[],
  names: readonly string[],
  prefix: string,
  pool: BufferPool,
  taken: Float32Array[],
): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  names.forEach((name, level) => {
    const parts = list.map((f) => f.levels[level]);
    const dims = [list.length, ...parts[0].dims.slice(1)];
    feeds[prefix + name] = {
      data: pool.stack(
        parts.map((p) => p.data),
        taken,
      ),
      dims,
    };
  });
  return feeds;
}

/** Frames stacked into one batch tensor (a view when there is one; else a buffer of `pool`). */
export function stackImages(
  images: readonly FloatImage[],
  pool: BufferPool,
  taken: Float32Array[],
): TensorData {
  const { channels, height, width } = images[0];
  return {
    data: pool.stack(
      images.map((i) => i.data),
      taken,
    ),
    dims: [images.length, channels, height, width],
  };
}

export const NEXT_FEATURES_PREFIX = NEXT_PREFIX;
