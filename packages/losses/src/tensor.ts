/**
 * A minimal dense tensor: a typed array in row-major (C) order plus its shape, the layout the
 * Python trainer and the parity vectors use. Values are read as doubles whatever the storage.
 */

import { LossInputError } from "./errors.js";

export type TensorData = Float32Array | Float64Array;

/** Dense row-major tensor, e.g. frames (B, T, C, H, W) or masks (B, 1, H, W). */
export interface Tensor {
  readonly data: TensorData;
  readonly shape: readonly number[];
}

/** Boolean flags (1 = true) in row-major order, e.g. `keyValid` (B, K). */
export interface FlagTensor {
  readonly data: Uint8Array;
  readonly shape: readonly number[];
}

/** Number of elements of a shape (1 for a scalar shape `[]`). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Shape as Python prints a tuple, `(2, 3)` / `(4,)`, so both languages' messages read alike. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function checkShape(name: string, shape: readonly number[], length: number): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new LossInputError(name, `shape must hold integers >= 0, got [${shape.join(", ")}]`);
  }
  if (numel(shape) !== length) {
    throw new LossInputError(name, `data length ${length} does not match shape ${formatShape(shape)}`);
  }
}

/** A tensor over `data` (copied into a Float64Array when given a plain array). */
export function tensor(data: TensorData | ArrayLike<number>, shape: readonly number[]): Tensor {
  const typed = data instanceof Float32Array || data instanceof Float64Array ? data : Float64Array.from(data);
  checkShape("tensor", shape, typed.length);
  return { data: typed, shape: [...shape] };
}

/** A Float64 tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  return tensor(new Float64Array(numel(shape)), shape);
}

/** A tensor of the given shape filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  return tensor(new Float64Array(numel(shape)).fill(value), shape);
}

/** Flags from booleans or 0/1 numbers. */
export function flags(data: ArrayLike<boolean | number>, shape: readonly number[]): FlagTensor {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ? 1 : 0;
  checkShape("flags", shape, out.length);
  return { data: out, shape: [...shape] };
}
