// The dataset layer of @stillmotion/orchestrator (docs/dataset-format.md, docs/datasets.md).
// Re-exports only; user-facing names first.

export { type Calibration, calibrate } from "./calibrate.js";
export { type CheckReport, checkDataset } from "./check.js";
export {
  DETECTOR_INPUT,
  DETECTOR_OUTPUT,
  LesionDetector,
  type SegmentationSession,
  type SessionOpener,
} from "./detector.js";
export { DATASET_REASONS, DatasetError, type DatasetReason } from "./errors.js";
export { loadFrame, loadMask, maskProblem } from "./images.js";
export { type ImportClipsOptions, importClips } from "./import-clips.js";
export type { ImportResult } from "./import-common.js";
export { type ImportDicomOptions, importDicom } from "./import-dicom.js";
export { type ImportFramesOptions, importFrames } from "./import-frames.js";
export { type ImportStillsOptions, importStills, STILL_LAYOUTS } from "./import-stills.js";
export { type ImportVideoOptions, importVideo } from "./import-video.js";
export { type FrameScore, scoreFrames, selectKeyframes } from "./keyframe-scores.js";
export { ASSIGN_MODES, type KeyframesOptions, type KeyframesResult, keyframes } from "./keyframes.js";
export {
  type FrameEntry,
  type KeySource,
  keyIndices,
  loadManifest,
  type Manifest,
  type ManifestData,
  type Modality,
  pathProblem,
  type VideoEntry,
  validateManifest,
} from "./manifest.js";
export { type DatasetStats, type Distribution, datasetStats } from "./stats.js";
export { type DatasetHeader, type DatasetVideo, DatasetWriter } from "./write.js";
