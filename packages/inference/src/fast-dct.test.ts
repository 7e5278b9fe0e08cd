/**
 * fast-dct.ts against the dense orthonormal DCT-II matrix written from its definition, for
 * lengths with one, two and many prime factors and for primes (the direct-sum path), and its
 * inverse as the matrix's transpose.
 */
import { describe, expect, it } from "vitest";

import { dctForward, dctInverse } from "./fast-dct.js";

/** C[k, i] = s_k cos(pi k (2i + 1) / 2n), s_0 = sqrt(1 / n), s_k = sqrt(2 / n). */
function denseBasis(n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt((k === 0 ? 1 : 2) / n);
    for (let i = 0; i < n; i++) c[k * n + i] = s * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
  }
  return c;
}

const farthest = (a: Float64Array, b: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

describe("dctForward / dctInverse", () => {
  it.each([1, 2, 3, 4, 5, 7, 8, 12, 17, 30, 85, 96, 127, 128])("equal the dense matrix at n = %i", (n) => {
    let seed = n;
    const x = Float64Array.from({ length: n }, () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647 - 0.5;
    });
    const c = denseBasis(n);
    const forward = new Float64Array(n);
    const transposed = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        forward[k] += c[k * n + i] * x[i];
        transposed[k] += c[i * n + k] * x[i];
      }
    }
    expect(farthest(dctForward(x), forward)).toBeLessThan(1e-12);
    expect(farthest(dctInverse(x), transposed)).toBeLessThan(1e-12);
    expect(farthest(dctInverse(dctForward(x)), x)).toBeLessThan(1e-12);
  });

  it("the dense basis is orthonormal", () => {
    const n = 6;
    const c = denseBasis(n);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += c[a * n + i] * c[b * n + i];
        expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });
});
