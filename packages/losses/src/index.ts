// The losses of METHOD.md (φ, d, θ, L_I, L_M1, L_M2, the training loss) and the evaluation
// metrics, mirrored from the Python trainer. Re-exports only; user-facing names first.

export {
  Code,
  codeFromName,
  LossInputError,
  StillMotionError,
  type StillMotionErrorOptions,
} from "./errors.js";
export { firstMaskLoss, imageLoss, secondMaskLoss } from "./method-losses.js";
export { boundaryF } from "./metrics/boundary-f.js";
export { dice } from "./metrics/dice.js";
export { iou } from "./metrics/iou.js";
export { PSNR_CAP_DB, psnr } from "./metrics/psnr.js";
export {
  SELECTION_MODES,
  type SelectionMode,
  selectBySimilarity,
  selectFixedStep,
} from "./metrics/selection.js";
export { ssim } from "./metrics/ssim.js";
export { temporalStability } from "./metrics/temporal-stability.js";
export { DICE_EPS, PHI_FUNCTIONS, PHI_NAMES, type PhiName, phi, phiDice, phiL1, phiL2 } from "./phi.js";
export {
  dNcc,
  dOneMinusL1,
  dSsim,
  NCC_FLAT_VARIANCE,
  SIMILARITY_FUNCTIONS,
  SIMILARITY_NAMES,
  type SimilarityName,
  SSIM_C1,
  SSIM_C2,
  SSIM_RADIUS,
  SSIM_SIGMA,
  similarity,
  ssimPerSample,
} from "./similarity.js";
export {
  type FlagTensor,
  flags,
  full,
  numel,
  type Tensor,
  type TensorData,
  tensor,
  zeros,
} from "./tensor.js";
export { theta } from "./theta.js";
export {
  DEFAULT_LOSS_CONFIG,
  type LossConfig,
  lossConfig,
  type TrainingLossInputs,
  type TrainingLossResult,
  trainingLoss,
} from "./training-loss.js";
