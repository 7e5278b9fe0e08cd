/**
 * The full training loss of one batch of walks — METHOD.md step 6.
 * Mirrors Python `stillmotion_trainer/losses/training_loss.py` (`LossConfig`, `training_loss`).
 * Batch layout: B videos (N_V), T transitions each (N_F); transition t maps frame s_t to s_{t+1}.
 */

import { LossInputError } from "./errors.js";
import { keyFrameMean, type ThetaTerms } from "./method-losses.js";
import { PHI_KERNELS, PHI_NAMES, type PhiName } from "./phi.js";
import { SIMILARITY_KERNELS, SIMILARITY_NAMES, type SimilarityName, SsimScratch } from "./similarity.js";
import { type FlagTensor, formatShape, type Tensor } from "./tensor.js";
import { thetaValue } from "./theta.js";
import { checkChoice, checkFlags, checkTensor, checkUnitScalar, sameShape } from "./validate.js";

/** Which φ and d to use, the θ thresholds and the term weights. Mirrors Python `LossConfig`. */
export interface LossConfig {
  /** φ of both mask terms. */
  phi: PhiName;
  /** φ of the image term. */
  imagePhi: PhiName;
  d: SimilarityName;
  gamma1: number;
  gamma2: number;
  lambdaImage: number;
  lambdaM1: number;
  lambdaM2: number;
  lambdaAdv: number;
}

/** The defaults, in one place (same values as Python's dataclass defaults). */
export const DEFAULT_LOSS_CONFIG: Readonly<LossConfig> = Object.freeze({
  phi: "dice",
  imagePhi: "l1",
  d: "ssim",
  gamma1: 0.8,
  gamma2: 0.5,
  lambdaImage: 1,
  lambdaM1: 1,
  lambdaM2: 1,
  lambdaAdv: 0,
});

/** Defaults overlaid with `overrides`, checked; errors name the field as `LossConfig.<field>`. */
export function lossConfig(overrides: Partial<LossConfig> = {}): LossConfig {
  const cfg: LossConfig = { ...DEFAULT_LOSS_CONFIG, ...overrides };
  checkChoice("LossConfig.phi", cfg.phi, PHI_NAMES);
  checkChoice("LossConfig.imagePhi", cfg.imagePhi, PHI_NAMES);
  checkChoice("LossConfig.d", cfg.d, SIMILARITY_NAMES);
  checkUnitScalar("LossConfig.gamma1", cfg.gamma1);
  checkUnitScalar("LossConfig.gamma2", cfg.gamma2);
  for (const name of ["lambdaImage", "lambdaM1", "lambdaM2", "lambdaAdv"] as const) {
    const v = cfg[name];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new LossInputError(`LossConfig.${name}`, `expected a finite number >= 0, got ${String(v)}`);
    }
  }
  return cfg;
}

/** The tensors of one batch of walks (Python `training_loss` arguments, camelCase). */
export interface TrainingLossInputs {
  /** (B, T, C, H, W) I_{s_t}, real frames fed to G. */
  framesIn: Tensor;
  /** (B, T, C, H, W) I_{s_{t+1}}, real targets. */
  framesNext: Tensor;
  /** (B, T, C, H, W) I^_{s_{t+1}}. */
  predImages: Tensor;
  /** (B, T, 1, H, W) M^_{s_t}, the mask fed to G. */
  maskIn: Tensor;
  /** (B, T, 1, H, W) M^_{s_{t+1}}. */
  predMasks: Tensor;
  /** (B, T), 0 where maskIn is the random seed of step 0. */
  maskInInferred: FlagTensor;
  /** (B, K, C, H, W) I_k. */
  keyImages: Tensor;
  /** (B, K, 1, H, W) M_k. */
  keyMasks: Tensor;
  /** (B, K). */
  keyValid: FlagTensor;
  /** Generator adversarial loss, already averaged; required when lambdaAdv > 0. */
  adv?: number;
}

/** The averaged terms; `adv` is the given adversarial loss or 0. Python returns the same keys in snake_case. */
export interface TrainingLossResult {
  image: number;
  maskFirst: number;
  maskSecond: number;
  adv: number;
  total: number;
}

/**
 * Training loss = λ_I L_I + λ_M1 L_M1 + λ_M2 L_M2 + λ_adv L_adv — METHOD.md step 6.
 *
 * Each term is averaged as 1 / (N_V · N_F) · Σ_videos Σ_transitions, i.e. its (B, T) values summed
 * and divided by B·T. Transitions whose mask input was NOT inferred contribute 0 to the L_M1 sum
 * but still count in B·T. L_M2 of a transition is the mean over the video's valid key frames
 * (0 if none). Mirrors Python `training_loss`; computed in one pass without copies.
 */
export function trainingLoss(
  inputs: TrainingLossInputs,
  config: Partial<LossConfig> = {},
): TrainingLossResult {
  const cfg = lossConfig(config);
  const { framesIn, framesNext, predImages, maskIn, predMasks, keyImages, keyMasks } = inputs;
  const five = { ndim: 5, layout: "(B, T, C, H, W)" } as const;
  checkTensor("framesIn", framesIn, five);
  checkTensor("framesNext", framesNext, five);
  checkTensor("predImages", predImages, five);
  checkTensor("maskIn", maskIn, five);
  checkTensor("predMasks", predMasks, five);
  const [batch, steps, c, h, w] = framesIn.shape;
  for (const [name, t] of [
    ["framesNext", framesNext],
    ["predImages", predImages],
  ] as const) {
    if (!sameShape(t.shape, framesIn.shape)) {
      throw new LossInputError(
        name,
        `shape ${formatShape(t.shape)} does not match framesIn ${formatShape(framesIn.shape)}`,
      );
    }
  }
  const maskShape = [batch, steps, 1, h, w];
  for (const [name, t] of [
    ["maskIn", maskIn],
    ["predMasks", predMasks],
  ] as const) {
    if (!sameShape(t.shape, maskShape)) {
      throw new LossInputError(
        name,
        `expected shape ${formatShape(maskShape)} (B, T, 1, H, W), got ${formatShape(t.shape)}`,
      );
    }
  }
  const inferred = checkFlags("maskInInferred", inputs.maskInInferred, [batch, steps]);
  checkTensor("keyImages", keyImages, { ndim: 5, layout: "(B, K, C, H, W)", allowEmpty: true });
  const k = keyImages.shape[1];
  if (!sameShape(keyImages.shape, [batch, k, c, h, w])) {
    throw new LossInputError(
      "keyImages",
      `expected shape ${formatShape([batch, k, c, h, w])} (B, K, C, H, W), got ${formatShape(keyImages.shape)}`,
    );
  }
  checkTensor("keyMasks", keyMasks, { ndim: 5, layout: "(B, K, 1, H, W)", allowEmpty: true });
  if (!sameShape(keyMasks.shape, [batch, k, 1, h, w])) {
    throw new LossInputError(
      "keyMasks",
      `expected shape ${formatShape([batch, k, 1, h, w])} (B, K, 1, H, W), got ${formatShape(keyMasks.shape)}`,
    );
  }
  const keyValid = checkFlags("keyValid", inputs.keyValid, [batch, k]);
  const adv = inputs.adv;
  if (adv !== undefined) {
    if (typeof adv !== "number" || !Number.isFinite(adv)) {
      throw new LossInputError("adv", `expected a finite number, got ${String(adv)}`);
    }
  } else if (cfg.lambdaAdv > 0) {
    throw new LossInputError("adv", `required when lambdaAdv > 0 (got ${cfg.lambdaAdv})`);
  }

  const terms: ThetaTerms = { phiName: cfg.phi, dName: cfg.d, gamma1: cfg.gamma1, gamma2: cfg.gamma2 };
  const imagePhi = PHI_KERNELS[cfg.imagePhi];
  const maskPhi = PHI_KERNELS[cfg.phi];
  const d = SIMILARITY_KERNELS[cfg.d];
  const scratch = new SsimScratch(h, w);
  const plane = h * w;
  const frame = c * plane;
  let sumImage = 0;
  let sumFirst = 0;
  let sumSecond = 0;
  for (let v = 0; v < batch; v++) {
    for (let t = 0; t < steps; t++) {
      const n = v * steps + t; // transition index in (B*T)
      // 1. L_I — step 3
      sumImage += imagePhi(framesNext.data, n * frame, predImages.data, n * frame, frame);
      // 2. L_M1 — step 4, only where the mask input was itself inferred
      if (inferred.data[n]) {
        const p = maskPhi(maskIn.data, n * plane, predMasks.data, n * plane, plane);
        const sim = d(framesIn.data, n * frame, framesNext.data, n * frame, c, h, w, scratch);
        sumFirst += thetaValue(p, sim, cfg.gamma1, cfg.gamma2);
      }
      // 3. L_M2 — step 5, against the valid key frames of video v
      sumSecond += keyFrameMean(
        keyMasks.data,
        keyImages.data,
        keyValid.data,
        v,
        k,
        predMasks.data,
        framesNext.data,
        n,
        c,
        h,
        w,
        terms,
        scratch,
      );
    }
  }
  // 4. 1 / (N_V · N_F) · Σ — step 6
  const count = batch * steps;
  const image = sumImage / count;
  const maskFirst = sumFirst / count;
  const maskSecond = sumSecond / count;
  const advTerm = adv ?? 0;
  const total =
    cfg.lambdaImage * image + cfg.lambdaM1 * maskFirst + cfg.lambdaM2 * maskSecond + cfg.lambdaAdv * advTerm;
  return { image, maskFirst, maskSecond, adv: advTerm, total };
}
