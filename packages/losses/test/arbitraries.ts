// fast-check generators for the property tests: small (B, C, H, W) tensors with values in [0, 1].

import fc from "fast-check";
import type { Tensor } from "../src/tensor.js";

export interface Dims {
  b: number;
  c: number;
  h: number;
  w: number;
}

/** Batch 1-3, 1 or 3 channels, odd and tiny sizes down to 1×1. */
export const dims: fc.Arbitrary<Dims> = fc.record({
  b: fc.integer({ min: 1, max: 3 }),
  c: fc.constantFrom(1, 3),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
});

/** Values in [0, 1], with the edges 0, 0.5 and 1 drawn often (binary masks, thresholds). */
export const unit: fc.Arbitrary<number> = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.constantFrom(0, 0.5, 1),
);

export function tensorOf(shape: readonly number[]): fc.Arbitrary<Tensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  return fc
    .array(unit, { minLength: n, maxLength: n })
    .map((v) => ({ data: Float64Array.from(v), shape: [...shape] }));
}

/** Two tensors of one random (B, C, H, W) shape; `channels` forces C (1 for masks). */
export function tensorPair(channels?: number): fc.Arbitrary<[Tensor, Tensor]> {
  return dims.chain((d) => {
    const shape = [d.b, channels ?? d.c, d.h, d.w];
    return fc.tuple(tensorOf(shape), tensorOf(shape));
  });
}
