import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tensorOf, tensorPair } from "../test/arbitraries.js";
import { Code, LossInputError } from "./errors.js";
import { DICE_EPS, PHI_NAMES, phi, phiDice, phiL1, phiL2 } from "./phi.js";
import { full, tensor, zeros } from "./tensor.js";

describe("phi", () => {
  it.each(PHI_NAMES)("%s lies in [0, 1] and is symmetric", (name) => {
    fc.assert(
      fc.property(tensorPair(), ([a, b]) => {
        const ab = phi(name, a, b);
        const ba = phi(name, b, a);
        expect(ab.shape).toEqual([a.shape[0]]);
        for (let i = 0; i < ab.data.length; i++) {
          expect(ab.data[i]).toBeGreaterThanOrEqual(0);
          expect(ab.data[i]).toBeLessThanOrEqual(1);
          expect(ab.data[i]).toBeCloseTo(ba.data[i], 12);
        }
      }),
    );
  });

  it.each(PHI_NAMES)("%s of a binary mask with itself is exactly 0", (name) => {
    fc.assert(
      fc.property(tensorOf([2, 1, 3, 5]), (a) => {
        const binary = tensor(
          a.data.map((v) => (v >= 0.5 ? 1 : 0)),
          a.shape,
        );
        expect([...phi(name, binary, binary).data]).toEqual([0, 0]);
      }),
    );
  });

  it("dice: two empty masks give 0, empty against full gives 1 up to ε", () => {
    const empty = zeros([1, 1, 3, 5]);
    expect(phiDice(empty, empty).data[0]).toBe(0);
    expect(phiDice(empty, full([1, 1, 3, 5], 1)).data[0]).toBeCloseTo(1 - DICE_EPS / (15 + DICE_EPS), 15);
  });

  it("l1 and l2 of opposite binary images are 1", () => {
    expect(phiL1(zeros([1, 3, 2, 2]), full([1, 3, 2, 2], 1)).data[0]).toBe(1);
    expect(phiL2(zeros([1, 3, 2, 2]), full([1, 3, 2, 2], 1)).data[0]).toBe(1);
  });

  it("rejects NaN, out-of-range values, bad shapes and unknown names with a typed error", () => {
    const good = zeros([1, 1, 2, 2]);
    const nan = tensor([0, Number.NaN, 0, 0], [1, 1, 2, 2]);
    expect(() => phiL1(good, nan)).toThrow("b: contains NaN");
    expect(() => phiL1(full([1, 1, 2, 2], 2), good)).toThrow("a: values must lie in [0, 1], got min 2 max 2");
    expect(() => phiL1(good, zeros([1, 1, 2, 3]))).toThrow(
      "b: shape (1, 1, 2, 3) does not match a shape (1, 1, 2, 2)",
    );
    expect(() => phiL1(zeros([2, 2]), zeros([2, 2]))).toThrow(
      "a: expected a 4-D tensor (B, C, H, W), got shape (2, 2)",
    );
    expect(() => phiL1({ data: new Float64Array(3), shape: [1, 1, 2, 2] }, good)).toThrow(
      "a: data length 3 does not match shape (1, 1, 2, 2)",
    );
    // @ts-expect-error an unknown name is a runtime error too
    expect(() => phi("l3", good, good)).toThrow(
      'phi: unsupported value "l3". Should be one of: l1, l2, dice',
    );
    try {
      phiDice(good, nan);
    } catch (err) {
      expect(err).toBeInstanceOf(LossInputError);
      expect((err as LossInputError).code).toBe(Code.INVALID_ARGUMENT);
      expect((err as LossInputError).argument).toBe("b");
    }
  });
});
