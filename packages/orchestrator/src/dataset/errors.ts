/**
 * The dataset layer's typed error: a reason code shared with Python
 * (stillmotion_trainer/data/errors.py), the file concerned, and a message naming the problem.
 */
import { Code, StillMotionError } from "../errors.js";

/** Reason -> gRPC status, identical to Python's CODES. */
export const DATASET_REASONS = {
  invalid_manifest: Code.INVALID_ARGUMENT,
  unsupported_version: Code.INVALID_ARGUMENT,
  unsafe_path: Code.INVALID_ARGUMENT,
  duplicate_id: Code.INVALID_ARGUMENT,
  duplicate_path: Code.INVALID_ARGUMENT,
  empty_video: Code.INVALID_ARGUMENT,
  bad_dimensions: Code.INVALID_ARGUMENT,
  missing_file: Code.NOT_FOUND,
  unreadable_image: Code.INVALID_ARGUMENT,
  wrong_channels: Code.INVALID_ARGUMENT,
  size_mismatch: Code.INVALID_ARGUMENT,
  mask_not_binary: Code.INVALID_ARGUMENT,
  video_too_short: Code.FAILED_PRECONDITION,
  no_key_frame: Code.FAILED_PRECONDITION,
  unknown_video: Code.INVALID_ARGUMENT,
  // TypeScript-only (importers and tools):
  unmatched_file: Code.INVALID_ARGUMENT,
  unsupported_input: Code.INVALID_ARGUMENT,
  output_exists: Code.ALREADY_EXISTS,
  tool_failed: Code.INTERNAL,
} as const;

export type DatasetReason = keyof typeof DATASET_REASONS;

export class DatasetError extends StillMotionError {
  declare readonly reason: DatasetReason;
  readonly file: string;
  /** The message without the file prefix. */
  readonly detail: string;

  constructor(reason: DatasetReason, file: string, detail: string, options?: { cause?: unknown }) {
    super(DATASET_REASONS[reason], `${file}: ${detail} [${reason}]`, { ...options, reason });
    this.name = "DatasetError";
    this.file = file;
    this.detail = detail;
  }
}

export function errorMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
