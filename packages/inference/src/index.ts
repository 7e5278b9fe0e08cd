// @stillmotion/inference: run an exported StillMotion generator with onnxruntime-node.
// Re-exports only (kept in the linter's sorted order). Start with loadGenerator,
// generateFromStill (still -> video) and propagateMasks / propagateStream (video -> masks).

export type { OnnxSession, SessionOptions, TensorData, ValueInfo } from "./backend/onnx.js";
// low level: any ONNX model (e.g. a key-frame lesion detector) behind the same session defaults
export { createOnnxSession, defaultSessionOptions } from "./backend/onnx.js";
export type { CameraProfile, Pose } from "./camera-motion.js";
export {
  autoExposure,
  cameraField,
  checkCameraProfile,
  mirror,
  readCameraProfile,
  samplePoses,
} from "./camera-motion.js";
export { DEFAULT_DETAIL, splitDetail } from "./detail-sampling.js";
export { Code, InferenceError } from "./errors.js";
export { DEFAULT_BORDER_THRESHOLD, fillBorder, findBorder, throughBorder } from "./fixed-border.js";
export {
  produceAtomic,
  replaceDirAtomic,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
} from "./fs-atomic.js";
export type { GeneratorMetadata, LoadGeneratorOptions, StepResult } from "./generator.js";
export {
  configHash,
  GENERATOR_FORMAT,
  Generator,
  IMAGE_OUTPUT,
  INPUT_NAMES,
  loadGenerator,
  MOTION_MASK_OUTPUT,
  NEXT_FRAME_INPUT,
  OUTPUT_NAMES,
} from "./generator.js";
export type { ReadImageOptions, ReadOptions } from "./image-io.js";
export {
  decode,
  encodePng,
  readImage,
  readMask,
  resizeImage,
  writeImagePng,
  writeMaskPng,
} from "./image-io.js";
export type { FloatImage, Mask, RawPixels } from "./image-types.js";
export {
  binarizeMask,
  checkImage,
  checkMask,
  createImage,
  createMask,
  imageToPixels,
  maskToPixels,
  pixelsToImage,
  pixelsToMask,
} from "./image-types.js";
export { motionDownsample, trainingSize } from "./motion-scale.js";
export type { OverlayOptions } from "./overlay.js";
export { overlayPixels } from "./overlay.js";
export type {
  Fusion,
  KeyFrame,
  MaskSource,
  PropagateOptions,
  PropagationResult,
  Reference,
} from "./propagate.js";
export { FUSIONS, propagateMasks, REFERENCES } from "./propagate.js";
export type { StreamedMask, StreamOptions } from "./propagate-stream.js";
export { propagateStream } from "./propagate-stream.js";
export { randomMask } from "./random-mask.js";
export type { SelectionMode, SimilarityName } from "./select.js";
export { pick, SELECTION_MODES, SIMILARITY_NAMES, selectBySimilarity, selectEvery } from "./select.js";
export type { FrameFeatures, ModelLayout } from "./split-layout.js";
export { MODEL_LAYOUTS } from "./split-layout.js";
export type { GeneratedVideo, GenerateOptions, SceneMotion } from "./still-to-video.js";
export { generateFromStill, generationStep, SCENE_MOTIONS } from "./still-to-video.js";
export { bilinearUp, boxDown, boxDownMask, checkDownsample } from "./work-scale.js";
export type { AnimatedPreviewOptions, PreviewFormat } from "./writers/animated-preview.js";
export { writeAnimatedPreview } from "./writers/animated-preview.js";
export type { OverlayVideoOptions } from "./writers/overlay-video.js";
export { writeOverlayVideo } from "./writers/overlay-video.js";
export type { PngSequenceOptions, PngSequenceResult } from "./writers/png-sequence.js";
export { writePngSequence } from "./writers/png-sequence.js";
