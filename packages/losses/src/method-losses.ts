/**
 * The per-transition loss terms of METHOD.md steps 3-5, each (B,), one value per transition.
 * Mirrors Python `stillmotion_trainer/losses/method_losses.py`.
 */

import { LossInputError } from "./errors.js";
import { PHI_KERNELS, PHI_NAMES, type PhiName, phi } from "./phi.js";
import { SIMILARITY_KERNELS, SIMILARITY_NAMES, type SimilarityName, SsimScratch } from "./similarity.js";
import { type FlagTensor, formatShape, type Tensor, tensor } from "./tensor.js";
import { thetaValue } from "./theta.js";
import {
  checkChoice,
  checkFlags,
  checkSameShape,
  checkTensor,
  checkUnitScalar,
  sameShape,
} from "./validate.js";

/** L_I = φ(I_{s_{j+1}}, I^_{s_{j+1}}) — step 3. (B, C, H, W) ×2 → (B,). Mirrors Python `image_loss`. */
export function imageLoss(targetNext: Tensor, predNext: Tensor, phiName: PhiName): Tensor {
  checkTensor("targetNext", targetNext, { ndim: 4, layout: "(B, C, H, W)" });
  checkTensor("predNext", predNext, { ndim: 4, layout: "(B, C, H, W)" });
  checkSameShape(["targetNext", "predNext"], [targetNext, predNext]);
  return phi(phiName, targetNext, predNext);
}

/** A (B, 1, H, W) mask beside its (B, C, H, W) image, as Python `_check_masks_images`. */
export function checkMaskImage(maskName: string, mask: Tensor, imageName: string, image: Tensor): void {
  checkTensor(maskName, mask, { ndim: 4, layout: "(B, 1, H, W)" });
  checkTensor(imageName, image, { ndim: 4, layout: "(B, C, H, W)" });
  if (mask.shape[1] !== 1) {
    throw new LossInputError(maskName, `expected 1 channel, got shape ${formatShape(mask.shape)}`);
  }
  if (
    mask.shape[0] !== image.shape[0] ||
    mask.shape[2] !== image.shape[2] ||
    mask.shape[3] !== image.shape[3]
  ) {
    throw new LossInputError(
      maskName,
      `shape ${formatShape(mask.shape)} does not match ${imageName} shape ${formatShape(image.shape)} in batch and H, W`,
    );
  }
}

/** φ, d and the thresholds, checked once. */
export interface ThetaTerms {
  phiName: PhiName;
  dName: SimilarityName;
  gamma1: number;
  gamma2: number;
}

export function checkThetaTerms(
  phiName: unknown,
  dName: unknown,
  gamma1: unknown,
  gamma2: unknown,
): ThetaTerms {
  return {
    phiName: checkChoice("phi", phiName, PHI_NAMES),
    dName: checkChoice("d", dName, SIMILARITY_NAMES),
    gamma1: checkUnitScalar("gamma1", gamma1),
    gamma2: checkUnitScalar("gamma2", gamma2),
  };
}

/**
 * L_M1 = θ(φ(M^_{s_j}, M^_{s_{j+1}}), d(I_{s_j}, I_{s_{j+1}})) — step 4. → (B,).
 * maskIn, maskOut: (B, 1, H, W); imageIn, imageNext: (B, C, H, W). Mirrors Python `first_mask_loss`.
 */
export function firstMaskLoss(
  maskIn: Tensor,
  maskOut: Tensor,
  imageIn: Tensor,
  imageNext: Tensor,
  phiName: PhiName,
  dName: SimilarityName,
  gamma1: number,
  gamma2: number,
): Tensor {
  checkMaskImage("maskIn", maskIn, "imageIn", imageIn);
  checkMaskImage("maskOut", maskOut, "imageNext", imageNext);
  checkSameShape(["maskIn", "maskOut"], [maskIn, maskOut]);
  checkSameShape(["imageIn", "imageNext"], [imageIn, imageNext]);
  const terms = checkThetaTerms(phiName, dName, gamma1, gamma2);
  const [batch, c, h, w] = imageIn.shape;
  const phiK = PHI_KERNELS[terms.phiName];
  const dK = SIMILARITY_KERNELS[terms.dName];
  const scratch = new SsimScratch(h, w);
  const out = new Float64Array(batch);
  for (let s = 0; s < batch; s++) {
    const p = phiK(maskIn.data, s * h * w, maskOut.data, s * h * w, h * w);
    const d = dK(imageIn.data, s * c * h * w, imageNext.data, s * c * h * w, c, h, w, scratch);
    out[s] = thetaValue(p, d, terms.gamma1, terms.gamma2);
  }
  return tensor(out, [batch]);
}

/**
 * L_M2 = mean over valid k of θ(φ(M_k, M^_{s_{j+1}}), d(I_k, I_{s_{j+1}})) — step 5. → (B,).
 * keyMasks (B, K, 1, H, W), keyImages (B, K, C, H, W), keyValid (B, K); a sample without a valid
 * key frame (or K = 0) gets 0. Mirrors Python `second_mask_loss`.
 */
export function secondMaskLoss(
  keyMasks: Tensor,
  keyImages: Tensor,
  keyValid: FlagTensor,
  maskOut: Tensor,
  imageNext: Tensor,
  phiName: PhiName,
  dName: SimilarityName,
  gamma1: number,
  gamma2: number,
): Tensor {
  checkTensor("keyMasks", keyMasks, { ndim: 5, layout: "(B, K, 1, H, W)", allowEmpty: true });
  checkTensor("keyImages", keyImages, { ndim: 5, layout: "(B, K, C, H, W)", allowEmpty: true });
  checkMaskImage("maskOut", maskOut, "imageNext", imageNext);
  const [batch, k] = keyMasks.shape;
  if (!sameShape(keyMasks.shape, [batch, k, ...maskOut.shape.slice(1)])) {
    throw new LossInputError(
      "keyMasks",
      `shape ${formatShape(keyMasks.shape)} does not match (B, K) + maskOut shape ${formatShape(maskOut.shape.slice(1))} with B=${maskOut.shape[0]}`,
    );
  }
  if (!sameShape(keyImages.shape, [batch, k, ...imageNext.shape.slice(1)]) || batch !== maskOut.shape[0]) {
    throw new LossInputError(
      "keyImages",
      `shape ${formatShape(keyImages.shape)} does not match (B, K) = (${batch}, ${k}) + imageNext shape ${formatShape(imageNext.shape.slice(1))} with B=${imageNext.shape[0]}`,
    );
  }
  checkFlags("keyValid", keyValid, [batch, k]);
  const terms = checkThetaTerms(phiName, dName, gamma1, gamma2);
  const [, c, h, w] = imageNext.shape;
  const out = new Float64Array(batch);
  const scratch = new SsimScratch(h, w);
  for (let s = 0; s < batch; s++) {
    out[s] = keyFrameMean(
      keyMasks.data,
      keyImages.data,
      keyValid.data,
      s,
      k,
      maskOut.data,
      imageNext.data,
      s,
      c,
      h,
      w,
      terms,
      scratch,
    );
  }
  return tensor(out, [batch]);
}

/**
 * Mean θ over the valid key frames of video `video` against transition `at` (0 if none valid).
 * Shared by `secondMaskLoss` and `trainingLoss`, which index key frames per video, not per transition.
 */
export function keyFrameMean(
  keyMasks: ArrayLike<number>,
  keyImages: ArrayLike<number>,
  keyValid: Uint8Array,
  video: number,
  k: number,
  maskOut: ArrayLike<number>,
  imageNext: ArrayLike<number>,
  at: number,
  c: number,
  h: number,
  w: number,
  terms: ThetaTerms,
  scratch: SsimScratch,
): number {
  const plane = h * w;
  const phiK = PHI_KERNELS[terms.phiName];
  const dK = SIMILARITY_KERNELS[terms.dName];
  let sum = 0;
  let count = 0;
  for (let j = 0; j < k; j++) {
    const key = video * k + j;
    if (!keyValid[key]) continue;
    const p = phiK(keyMasks, key * plane, maskOut, at * plane, plane);
    const d = dK(keyImages, key * c * plane, imageNext, at * c * plane, c, h, w, scratch);
    sum += thetaValue(p, d, terms.gamma1, terms.gamma2);
    count++;
  }
  return count > 0 ? sum / count : 0;
}
