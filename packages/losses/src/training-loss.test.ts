import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tensorOf } from "../test/arbitraries.js";
import { firstMaskLoss, imageLoss, secondMaskLoss } from "./method-losses.js";
import { PHI_NAMES } from "./phi.js";
import { SIMILARITY_NAMES } from "./similarity.js";
import { flags, type Tensor, tensor } from "./tensor.js";
import {
  DEFAULT_LOSS_CONFIG,
  type LossConfig,
  lossConfig,
  type TrainingLossInputs,
  trainingLoss,
} from "./training-loss.js";

/** Slice transition (v, t) of a (B, T, ...) tensor as a (1, ...) tensor. */
function at(x: Tensor, v: number, t: number, steps: number): Tensor {
  const size = x.data.length / (x.shape[0] * x.shape[1]);
  const i = v * steps + t;
  return tensor(x.data.slice(i * size, (i + 1) * size), [1, ...x.shape.slice(2)]);
}

const batchArb = fc
  .record({
    b: fc.integer({ min: 1, max: 2 }),
    t: fc.integer({ min: 1, max: 3 }),
    c: fc.constantFrom(1, 3),
    h: fc.integer({ min: 1, max: 6 }),
    w: fc.integer({ min: 1, max: 6 }),
    k: fc.integer({ min: 0, max: 2 }),
  })
  .chain(({ b, t, c, h, w, k }) =>
    fc.record({
      framesIn: tensorOf([b, t, c, h, w]),
      framesNext: tensorOf([b, t, c, h, w]),
      predImages: tensorOf([b, t, c, h, w]),
      maskIn: tensorOf([b, t, 1, h, w]),
      predMasks: tensorOf([b, t, 1, h, w]),
      maskInInferred: fc
        .array(fc.boolean(), { minLength: b * t, maxLength: b * t })
        .map((f) => flags(f, [b, t])),
      keyImages: tensorOf([b, k, c, h, w]),
      keyMasks: tensorOf([b, k, 1, h, w]),
      keyValid: fc.array(fc.boolean(), { minLength: b * k, maxLength: b * k }).map((f) => flags(f, [b, k])),
    }),
  );

const configArb: fc.Arbitrary<Partial<LossConfig>> = fc.record({
  phi: fc.constantFrom(...PHI_NAMES),
  imagePhi: fc.constantFrom(...PHI_NAMES),
  d: fc.constantFrom(...SIMILARITY_NAMES),
  gamma1: fc.double({ min: 0, max: 1, noNaN: true }),
  gamma2: fc.double({ min: 0, max: 1, noNaN: true }),
  lambdaImage: fc.double({ min: 0, max: 3, noNaN: true }),
  lambdaM1: fc.double({ min: 0, max: 3, noNaN: true }),
  lambdaM2: fc.double({ min: 0, max: 3, noNaN: true }),
});

describe("trainingLoss", () => {
  it("equals 1/(B·T) Σ of the per-transition terms, with excluded L_M1 terms counted as 0", () => {
    fc.assert(
      fc.property(batchArb, configArb, (x: TrainingLossInputs, partial) => {
        const cfg = lossConfig(partial);
        const got = trainingLoss(x, cfg);
        const [b, steps] = x.framesIn.shape;
        let li = 0;
        let lm1 = 0;
        let lm2 = 0;
        const k = x.keyImages.shape[1];
        const keyOf = (y: Tensor, v: number) =>
          tensor(y.data.slice((v * y.data.length) / b, ((v + 1) * y.data.length) / b), [
            1,
            ...y.shape.slice(1),
          ]);
        for (let v = 0; v < b; v++) {
          for (let t = 0; t < steps; t++) {
            const next = at(x.framesNext, v, t, steps);
            const mOut = at(x.predMasks, v, t, steps);
            li += imageLoss(next, at(x.predImages, v, t, steps), cfg.imagePhi).data[0];
            if (x.maskInInferred.data[v * steps + t]) {
              const [p, d, g1, g2] = [cfg.phi, cfg.d, cfg.gamma1, cfg.gamma2];
              lm1 += firstMaskLoss(
                at(x.maskIn, v, t, steps),
                mOut,
                at(x.framesIn, v, t, steps),
                next,
                p,
                d,
                g1,
                g2,
              ).data[0];
            }
            const valid = flags(x.keyValid.data.slice(v * k, (v + 1) * k), [1, k]);
            const keyMasks = keyOf(x.keyMasks, v);
            const keyImages = keyOf(x.keyImages, v);
            lm2 += secondMaskLoss(
              keyMasks,
              keyImages,
              valid,
              mOut,
              next,
              cfg.phi,
              cfg.d,
              cfg.gamma1,
              cfg.gamma2,
            ).data[0];
          }
        }
        const n = b * steps;
        expect(got.image).toBeCloseTo(li / n, 12);
        expect(got.maskFirst).toBeCloseTo(lm1 / n, 12);
        expect(got.maskSecond).toBeCloseTo(lm2 / n, 12);
        const total =
          cfg.lambdaImage * got.image + cfg.lambdaM1 * got.maskFirst + cfg.lambdaM2 * got.maskSecond;
        expect(got.total).toBeCloseTo(total, 12);
        for (const v of [got.image, got.maskFirst, got.maskSecond]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("adds λ_adv · adv and requires adv when λ_adv > 0", () => {
    fc.assert(
      fc.property(batchArb, fc.double({ min: 0, max: 5, noNaN: true }), (x, adv) => {
        const base = trainingLoss(x);
        const withAdv = trainingLoss({ ...x, adv }, { lambdaAdv: 0.1 });
        expect(withAdv.adv).toBe(adv);
        expect(withAdv.total).toBeCloseTo(base.total + 0.1 * adv, 12);
      }),
      { numRuns: 20 },
    );
    const x = fc.sample(batchArb, { numRuns: 1, seed: 1 })[0];
    expect(() => trainingLoss(x, { lambdaAdv: 0.5 })).toThrow("adv: required when lambdaAdv > 0 (got 0.5)");
  });

  it("rejects bad configs and shapes, naming the field", () => {
    expect(DEFAULT_LOSS_CONFIG).toMatchObject({
      phi: "dice",
      imagePhi: "l1",
      d: "ssim",
      gamma1: 0.8,
      gamma2: 0.5,
    });
    // @ts-expect-error runtime check of a value outside the type
    expect(() => lossConfig({ phi: "bce" })).toThrow('LossConfig.phi: unsupported value "bce"');
    expect(() => lossConfig({ gamma2: -0.1 })).toThrow(
      "LossConfig.gamma2: expected a number in [0, 1], got -0.1",
    );
    expect(() => lossConfig({ lambdaM1: Number.NaN })).toThrow(
      "LossConfig.lambdaM1: expected a finite number >= 0",
    );
    const x = fc.sample(batchArb, { numRuns: 1, seed: 2 })[0];
    const [b, t, , h, w] = x.framesIn.shape;
    const wrongMask = tensor(new Float64Array(b * t * 2 * h * w), [b, t, 2, h, w]);
    expect(() => trainingLoss({ ...x, predMasks: wrongMask })).toThrow(/^predMasks: expected shape/);
    expect(() => trainingLoss({ ...x, maskInInferred: flags([1], [1]) })).toThrow(
      /^maskInInferred: expected shape/,
    );
  });
});
