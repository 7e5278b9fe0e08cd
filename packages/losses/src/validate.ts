/**
 * Input checks shared by every loss and metric, in the same order and with the same argument
 * names as Python's `losses/validation.py`, so both reject the same inputs for the same reason.
 */

import { LossInputError } from "./errors.js";
import { type FlagTensor, formatShape, numel, type Tensor } from "./tensor.js";

export interface TensorCheck {
  /** Allowed ranks. */
  ndim?: number | readonly number[];
  /** Human layout for messages, e.g. "(B, C, H, W)". */
  layout?: string;
  /** Require values in [0, 1] (default true); otherwise only finiteness. */
  unitRange?: boolean;
  /** Accept a tensor with no elements (K = 0 key frames). */
  allowEmpty?: boolean;
}

/** `x` is a Tensor with a consistent shape, the right rank, finite, in [0, 1]; throws otherwise. */
export function checkTensor(name: string, x: unknown, opts: TensorCheck = {}): Tensor {
  const t = x as Tensor;
  if (
    typeof x !== "object" ||
    x === null ||
    !(t.data instanceof Float32Array || t.data instanceof Float64Array) ||
    !Array.isArray(t.shape)
  ) {
    throw new LossInputError(name, "expected a Tensor {data: Float32Array | Float64Array, shape: number[]}");
  }
  const ranks = opts.ndim === undefined ? undefined : typeof opts.ndim === "number" ? [opts.ndim] : opts.ndim;
  if (ranks && !ranks.includes(t.shape.length)) {
    const want = ranks.length === 1 ? `a ${ranks[0]}-D tensor` : `shape`;
    throw new LossInputError(
      name,
      `expected ${want} ${opts.layout ?? ""}, got shape ${formatShape(t.shape)}`.trim(),
    );
  }
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || numel(t.shape) !== t.data.length) {
    throw new LossInputError(
      name,
      `data length ${t.data.length} does not match shape ${formatShape(t.shape)}`,
    );
  }
  if (t.data.length === 0) {
    if (opts.allowEmpty) return t;
    throw new LossInputError(name, `is empty (shape ${formatShape(t.shape)})`);
  }
  checkValues(name, t.data, opts.unitRange ?? true);
  return t;
}

function checkValues(name: string, data: ArrayLike<number>, unitRange: boolean): void {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let nan = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (Number.isNaN(v)) nan = true;
  }
  if (nan) throw new LossInputError(name, "contains NaN");
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new LossInputError(name, "contains an infinite value");
  }
  if (unitRange && (min < 0 || max > 1)) {
    throw new LossInputError(name, `values must lie in [0, 1], got min ${fmt(min)} max ${fmt(max)}`);
  }
}

function fmt(v: number): string {
  return Number(v.toPrecision(6)).toString();
}

/** Every tensor has the first one's shape; the message names the mismatching argument. */
export function checkSameShape(names: readonly string[], tensors: readonly Tensor[]): void {
  for (let i = 1; i < tensors.length; i++) {
    if (!sameShape(tensors[i].shape, tensors[0].shape)) {
      throw new LossInputError(
        names[i],
        `shape ${formatShape(tensors[i].shape)} does not match ${names[0]} shape ${formatShape(tensors[0].shape)}`,
      );
    }
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A finite number in [0, 1] (γ1, γ2, thresholds). */
export function checkUnitScalar(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new LossInputError(name, `expected a number in [0, 1], got ${String(value)}`);
  }
  return value;
}

/** `value` is one of `allowed`; the message lists them. */
export function checkChoice<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new LossInputError(
      name,
      `unsupported value "${String(value)}". Should be one of: ${allowed.join(", ")}`,
    );
  }
  return value as T;
}

/** Flags of exactly `shape`, each 0 or 1. */
export function checkFlags(name: string, x: unknown, shape: readonly number[]): FlagTensor {
  const f = x as FlagTensor;
  if (typeof x !== "object" || x === null || !(f.data instanceof Uint8Array) || !Array.isArray(f.shape)) {
    throw new LossInputError(
      name,
      `expected a FlagTensor {data: Uint8Array, shape} of shape ${formatShape(shape)}`,
    );
  }
  if (!sameShape(f.shape, shape)) {
    throw new LossInputError(name, `expected shape ${formatShape(shape)}, got ${formatShape(f.shape)}`);
  }
  if (f.data.length !== numel(shape)) {
    throw new LossInputError(name, `data length ${f.data.length} does not match shape ${formatShape(shape)}`);
  }
  for (let i = 0; i < f.data.length; i++) {
    if (f.data[i] > 1) throw new LossInputError(name, `flags must be 0 or 1, got ${f.data[i]} at ${i}`);
  }
  return f;
}
