import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unit } from "../test/arbitraries.js";
import { tensor } from "./tensor.js";
import { theta, thetaValue } from "./theta.js";

describe("theta", () => {
  it("alike frames (d ≥ γ1, d exactly at γ1 included) return φ unchanged", () => {
    fc.assert(
      fc.property(unit, unit, unit, unit, (p, d, g1, g2) => {
        fc.pre(d >= g1);
        expect(thetaValue(p, d, g1, g2)).toBe(p);
        expect(thetaValue(p, g1, g1, g2)).toBe(p);
      }),
    );
  });

  it("unlike frames (d < γ1) return the hinge max(0, γ2 − φ): zero once the margin is met", () => {
    fc.assert(
      fc.property(unit, unit, unit, unit, (p, d, g1, g2) => {
        fc.pre(d < g1);
        const v = thetaValue(p, d, g1, g2);
        expect(v).toBe(Math.max(0, g2 - p));
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(g2);
        if (p >= g2) expect(v).toBe(0);
      }),
    );
  });

  it("the tensor form applies θ elementwise and checks γ", () => {
    const got = theta(tensor([0.3, 0.1, 0.7, 0.25], [4]), tensor([0.9, 0.2, 0.2, 0.75], [4]), 0.75, 0.5);
    expect([...got.data]).toEqual([0.3, 0.4, 0, 0.25]);
    expect(() => theta(tensor([0.1], [1]), tensor([0.1], [1]), 1.5, 0.5)).toThrow(
      "gamma1: expected a number in [0, 1], got 1.5",
    );
    expect(() => theta(tensor([0.1], [1]), tensor([0.1, 0.2], [2]), 0.5, 0.5)).toThrow(
      "dValue: shape (2,) does not match phiValue shape (1,)",
    );
  });
});
