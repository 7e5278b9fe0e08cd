/**
 * The evaluation report written by `python -m stillmotion_trainer evaluate`
 * (python-trainer/stillmotion_trainer/evaluation/evaluate.py, docs/evaluation.md): its types and
 * a check that a value really has the fields the table and the report section read, so a
 * trainer of another version fails with the field named instead of printing "undefined".
 */
import { Code, StillMotionError } from "../errors.js";

export const EVAL_REPORT_FORMAT = "stillmotion-eval";
export const EVAL_REPORT_VERSION = 1;
export const MASK_METHODS = ["model", "copy_key", "flow"] as const;
export const MASK_METRICS = ["dice", "iou", "boundary_f"] as const;
export const IMAGE_METHODS = ["model", "copy_last"] as const;
export const IMAGE_METRICS = ["psnr", "ssim"] as const;

export type MaskMethod = (typeof MASK_METHODS)[number];
export type ImageMethod = (typeof IMAGE_METHODS)[number];

/** Mean scores of one mask method; null where a mean had no value (never for scored videos). */
export interface MaskScores {
  dice: number | null;
  iou: number | null;
  boundary_f: number | null;
  temporal_stability: number | null;
}

export interface ImageScores {
  psnr: number | null;
  ssim: number | null;
}

export interface MaskStats {
  /** Mean value of the model's masks over the scored frames. */
  mean: number | null;
  /** Share of the model's mask pixels above 0.5. */
  fraction_above_half: number | null;
  /** Share of ground-truth lesion pixels, for comparison. */
  gt_fraction: number | null;
}

export interface EvalBlock {
  masks: Record<MaskMethod, MaskScores>;
  mask_stats: MaskStats;
  next_frame: Record<ImageMethod, ImageScores>;
}

export interface FrameScores {
  frame: number;
  gt_fraction: number | null;
  model: Omit<MaskScores, "temporal_stability">;
  copy_key: Omit<MaskScores, "temporal_stability">;
  flow: Omit<MaskScores, "temporal_stability">;
}

export interface VideoEval {
  id: string;
  frames: number;
  key_frames: number[];
  /** "manifest", or "gt_fallback" when the video had no keyMask and frame 0's gtMask was used. */
  key_source: "manifest" | "gt_fallback";
  scored_frames: number;
  transitions: number;
  masks: Record<MaskMethod, MaskScores>;
  gt_temporal_stability: number | null;
  mask_stats: MaskStats & { collapsed: "ones" | "zeros" | null };
  next_frame: Record<ImageMethod, ImageScores>;
  generator_steps: number;
  model_seconds: number | null;
  /** Time fitting the correction to this video's key frames (absent in older reports). */
  adapt_seconds?: number;
  per_frame: FrameScores[];
}

export interface EvalReport {
  format: typeof EVAL_REPORT_FORMAT;
  version: number;
  checkpoint: string;
  step: number | null;
  preset: string;
  generator: { variant: string; channels: number; next_frame_input: boolean };
  dataset: string;
  dataset_name: string;
  split: "all" | "train" | "val";
  val_fraction: number;
  seed: number;
  size: [number, number] | "native";
  fusion: "linear" | "nearest";
  /** Absent in reports written before the option existed (they are "previous"). */
  reference?: "previous" | "key";
  /** Steps of key-frame adaptation per video (`--adapt-steps`); absent in older reports (0). */
  adapt_steps?: number;
  /** Seed of that adaptation (`--adapt-seed`); absent in older reports (0). */
  adapt_seed?: number;
  /** The model ran on frames this many times smaller per side (`--downsample`); absent: 1. */
  downsample?: number;
  boundary_tolerance_px: number;
  flow: Record<string, number | string>;
  methods: { masks: string[]; images: string[] };
  videos: VideoEval[];
  skipped: Array<{ id: string; reason: string }>;
  overall: {
    videos: number;
    scored_frames: number;
    transitions: number;
    collapsed_videos: number;
    mean_over_videos: EvalBlock;
    frame_weighted: EvalBlock;
  };
  warnings: string[];
  elapsed_s: number;
  /** Where the trainer wrote the report, when it was asked to. */
  out?: string;
}

function fail(source: string, path: string, problem: string): never {
  throw new StillMotionError(
    Code.INTERNAL,
    `${source}: ${path}: ${problem} (not a ${EVAL_REPORT_FORMAT} v1 report)`,
  );
}

function field(source: string, value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const key of path.split(".")) {
    if (typeof at !== "object" || at === null || !(key in at)) fail(source, path, "missing");
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function numberOrNull(source: string, value: unknown, path: string): void {
  const v = field(source, value, path);
  if (v !== null && typeof v !== "number")
    fail(source, path, `expected a number or null, got ${JSON.stringify(v)}`);
}

function checkBlock(source: string, value: unknown, path: string): void {
  for (const m of MASK_METHODS) {
    for (const k of [...MASK_METRICS, "temporal_stability"])
      numberOrNull(source, value, `${path}.masks.${m}.${k}`);
  }
  for (const k of ["mean", "fraction_above_half", "gt_fraction"])
    numberOrNull(source, value, `${path}.mask_stats.${k}`);
  for (const m of IMAGE_METHODS) {
    for (const k of IMAGE_METRICS) numberOrNull(source, value, `${path}.next_frame.${m}.${k}`);
  }
}

/** `value` as an EvalReport, or a StillMotionError naming the first missing or wrong field. */
export function parseEvalReport(value: unknown, source = "evaluate report"): EvalReport {
  const format = field(source, value, "format");
  if (format !== EVAL_REPORT_FORMAT)
    fail(source, "format", `expected "${EVAL_REPORT_FORMAT}", got ${JSON.stringify(format)}`);
  const version = field(source, value, "version");
  if (version !== EVAL_REPORT_VERSION)
    fail(source, "version", `expected ${EVAL_REPORT_VERSION}, got ${JSON.stringify(version)}`);
  const videos = field(source, value, "videos");
  if (!Array.isArray(videos)) fail(source, "videos", "expected an array");
  videos.forEach((_, i) => {
    field(source, value, `videos.${i}.id`);
    checkBlock(source, value, `videos.${i}`);
    field(source, value, `videos.${i}.per_frame`);
  });
  checkBlock(source, value, "overall.mean_over_videos");
  checkBlock(source, value, "overall.frame_weighted");
  for (const key of ["warnings", "skipped"]) {
    if (!Array.isArray(field(source, value, key))) fail(source, key, "expected an array");
  }
  return value as EvalReport;
}
