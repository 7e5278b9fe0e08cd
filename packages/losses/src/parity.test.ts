// Parity with the Python trainer: runs tools/parity/write_vectors.py NOW (so the reference is
// today's Python, never a stale file) and replays every case through the TS functions.
// Required: |Δ| ≤ 1e-5 absolute or ≤ 1e-4 relative; error cases must fail on the same argument.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Code, LossInputError } from "./errors.js";
import {
  boundaryF,
  dice,
  dNcc,
  dOneMinusL1,
  dSsim,
  firstMaskLoss,
  imageLoss,
  iou,
  type LossConfig,
  phiDice,
  phiL1,
  phiL2,
  psnr,
  secondMaskLoss,
  selectBySimilarity,
  selectFixedStep,
  ssim,
  temporalStability,
  theta,
  trainingLoss,
} from "./index.js";
import type { FlagTensor, Tensor } from "./tensor.js";

const ABS_TOL = 1e-5;
const REL_TOL = 1e-4;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const PYTHON = process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3";

interface EncodedTensor {
  shape: number[];
  data: number[];
  dtype?: "bool";
}
interface ParityCase {
  id: string;
  fn: string;
  dtype: "float64" | "float32";
  args: Record<string, unknown>;
  expected?: unknown;
  error?: { code: string; argument: string };
}

function writeVectors(): { cases: ParityCase[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "stillmotion-parity-"));
  execFileSync(PYTHON, [join(REPO_ROOT, "tools/parity/write_vectors.py"), "--out", dir], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const file = JSON.parse(readFileSync(join(dir, "loss-vectors.json"), "utf8"));
  expect(file.format).toBe("stillmotion-loss-vectors");
  return { cases: file.cases as ParityCase[], dir };
}

const { cases, dir } = writeVectors();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const isTensor = (v: unknown): v is EncodedTensor =>
  typeof v === "object" && v !== null && "shape" in v && "data" in v;

function decode(v: unknown, dtype: ParityCase["dtype"]): unknown {
  if (isTensor(v)) {
    if (v.dtype === "bool") return { data: Uint8Array.from(v.data), shape: v.shape } satisfies FlagTensor;
    const data = dtype === "float32" ? Float32Array.from(v.data) : Float64Array.from(v.data);
    return { data, shape: v.shape } satisfies Tensor;
  }
  return v;
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Python keyword arguments (snake_case) → the TS call. */
// biome-ignore lint/suspicious/noExplicitAny: decoded JSON; the functions under test check it at run time
type Adapter = (a: Record<string, any>) => unknown;
const ADAPTERS: Record<string, Adapter> = {
  phi_l1: (a) => phiL1(a.a, a.b),
  phi_l2: (a) => phiL2(a.a, a.b),
  phi_dice: (a) => phiDice(a.a, a.b),
  d_ssim: (a) => dSsim(a.a, a.b),
  d_one_minus_l1: (a) => dOneMinusL1(a.a, a.b),
  d_ncc: (a) => dNcc(a.a, a.b),
  theta: (a) => theta(a.phi_value, a.d_value, a.gamma1, a.gamma2),
  image_loss: (a) => imageLoss(a.target_next, a.pred_next, a.phi_name),
  first_mask_loss: (a) =>
    firstMaskLoss(a.mask_in, a.mask_out, a.image_in, a.image_next, a.phi_name, a.d_name, a.gamma1, a.gamma2),
  second_mask_loss: (a) =>
    secondMaskLoss(
      a.key_masks,
      a.key_images,
      a.key_valid,
      a.mask_out,
      a.image_next,
      a.phi_name,
      a.d_name,
      a.gamma1,
      a.gamma2,
    ),
  training_loss: (a) => {
    const cfg = Object.fromEntries(
      Object.entries(a.cfg as object).map(([k, v]) => [camel(k), v]),
    ) as Partial<LossConfig>;
    return trainingLoss(
      {
        framesIn: a.frames_in,
        framesNext: a.frames_next,
        predImages: a.pred_images,
        maskIn: a.mask_in,
        predMasks: a.pred_masks,
        maskInInferred: a.mask_in_inferred,
        keyImages: a.key_images,
        keyMasks: a.key_masks,
        keyValid: a.key_valid,
        adv: a.adv ?? undefined,
      },
      cfg,
    );
  },
  dice: (a) => dice(a.pred, a.target),
  iou: (a) => iou(a.pred, a.target),
  psnr: (a) => psnr(a.a, a.b),
  ssim: (a) => ssim(a.a, a.b),
  boundary_f: (a) => boundaryF(a.pred, a.target, a.tolerance),
  temporal_stability: (a) => temporalStability(a.masks),
  select_fixed_step: (a) => selectFixedStep(a.n, a.step),
  select_by_similarity: (a) => selectBySimilarity(a.frames, a.mode, a.threshold, a.d_name),
};

function close(got: number, want: number): boolean {
  const diff = Math.abs(got - want);
  return diff <= ABS_TOL || diff <= REL_TOL * Math.abs(want);
}

/** Compare a TS result with the Python one; returns the first mismatch as text, or null. */
function mismatch(got: unknown, want: unknown, path = "result"): string | null {
  if (isTensor(want)) {
    const t = got as Tensor;
    if (JSON.stringify([...t.shape]) !== JSON.stringify(want.shape)) {
      return `${path}: shape [${t.shape}] vs Python [${want.shape}]`;
    }
    for (let i = 0; i < want.data.length; i++) {
      if (!close(t.data[i], want.data[i])) return `${path}[${i}]: ${t.data[i]} vs Python ${want.data[i]}`;
    }
    return null;
  }
  if (Array.isArray(want)) {
    return JSON.stringify(got) === JSON.stringify(want)
      ? null
      : `${path}: ${JSON.stringify(got)} vs Python ${JSON.stringify(want)}`;
  }
  if (typeof want === "object" && want !== null) {
    for (const [k, v] of Object.entries(want)) {
      const m = mismatch((got as Record<string, unknown>)[camel(k)], v, `${path}.${camel(k)}`);
      if (m) return m;
    }
    return null;
  }
  if (typeof want === "number") {
    return typeof got === "number" && close(got, want) ? null : `${path}: ${String(got)} vs Python ${want}`;
  }
  return got === want ? null : `${path}: ${String(got)} vs Python ${String(want)}`;
}

describe("parity vectors", () => {
  it("come from today's Python, are small, and cover every exported loss and metric", () => {
    expect(new Set(cases.map((c) => c.fn))).toEqual(new Set(Object.keys(ADAPTERS)));
    expect(cases.length).toBeGreaterThan(200);
    expect(readFileSync(join(dir, "loss-vectors.json")).length).toBeLessThan(2 * 1024 * 1024);
    for (const fn of Object.keys(ADAPTERS)) {
      expect(
        cases.some((c) => c.fn === fn && c.error),
        `${fn} has an error case`,
      ).toBe(true);
    }
  });
});

describe.each(Object.keys(ADAPTERS))("%s matches Python", (fn) => {
  const mine = cases.filter((c) => c.fn === fn);
  it.each(mine.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const args = Object.fromEntries(Object.entries(c.args).map(([k, v]) => [k, decode(v, c.dtype)]));
    if (c.error) {
      let thrown: unknown;
      try {
        ADAPTERS[fn](args);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(LossInputError);
      expect(Code[(thrown as LossInputError).code]).toBe(c.error.code); // Python names the status
      expect((thrown as LossInputError).argument).toBe(camel(c.error.argument));
      return;
    }
    expect(mismatch(ADAPTERS[fn](args), c.expected)).toBeNull();
  });
});
