/**
 * d — the similarity of two ORIGINAL images (METHOD.md steps 4-5), in [0, 1], larger = more alike.
 * Mirrors Python `stillmotion_trainer/losses/similarity.py`; docs/losses.md gives the choices:
 *
 * - "ssim": SSIM (Wang et al. 2004), 11-tap Gaussian window σ = 1.5 cut at the borders and
 *   re-normalised, C1 = 0.01², C2 = 0.03², per channel, mean over C, H, W, clamped to [0, 1].
 * - "1-l1": 1 − mean |A − B|.
 * - "ncc": global normalised cross-correlation over C, H, W clamped to [0, 1]; both images flat
 *   (variance < 1e-10) → 1, exactly one flat → 0.
 */

import { l1Kernel } from "./phi.js";
import { type Tensor, tensor } from "./tensor.js";
import { checkChoice, checkSameShape, checkTensor } from "./validate.js";

export const SSIM_RADIUS = 5;
export const SSIM_SIGMA = 1.5;
export const SSIM_C1 = 0.01 ** 2;
export const SSIM_C2 = 0.03 ** 2;
/** Per-element variance under which an image counts as flat for NCC. Python `NCC_FLAT_VARIANCE`. */
export const NCC_FLAT_VARIANCE = 1e-10;

export const SIMILARITY_NAMES = ["ssim", "1-l1", "ncc"] as const;
export type SimilarityName = (typeof SIMILARITY_NAMES)[number];

const TAPS = Float64Array.from({ length: 2 * SSIM_RADIUS + 1 }, (_, i) =>
  Math.exp(-((i - SSIM_RADIUS) * (i - SSIM_RADIUS)) / (2 * SSIM_SIGMA ** 2)),
);

/**
 * Reusable buffers for the SSIM filter of one H×W plane, so the hot loops never allocate.
 * Holds the five horizontally filtered statistics (μa, μb, E[a²], E[b²], E[ab]) and row sums.
 */
export class SsimScratch {
  readonly planes: Float64Array[];
  readonly rows: Float64Array[];
  readonly products: Float64Array[];
  readonly invMassW: Float64Array;
  readonly invMassH: Float64Array;

  constructor(
    readonly h: number,
    readonly w: number,
  ) {
    this.planes = Array.from({ length: 5 }, () => new Float64Array(h * w));
    this.rows = Array.from({ length: 5 }, () => new Float64Array(w));
    this.products = Array.from({ length: 3 }, () => new Float64Array(w));
    this.invMassW = inverseWindowMass(w);
    this.invMassH = inverseWindowMass(h);
  }

  /** This scratch if it fits an h×w plane, else a new one. */
  static for(h: number, w: number, current?: SsimScratch): SsimScratch {
    return current && current.h === h && current.w === w ? current : new SsimScratch(h, w);
  }
}

/** 1 / (sum of the taps inside a line of `length` pixels), per position. */
function inverseWindowMass(length: number): Float64Array {
  const out = new Float64Array(length);
  for (let j = 0; j < length; j++) {
    let mass = 0;
    for (let q = Math.max(0, j - SSIM_RADIUS); q <= Math.min(length - 1, j + SSIM_RADIUS); q++) {
      mass += TAPS[q - j + SSIM_RADIUS];
    }
    out[j] = 1 / mass;
  }
  return out;
}

const [T0, T1, T2, T3, T4, T5] = TAPS.subarray(SSIM_RADIUS);

/** Σ_k TAPS[k] · src[c + (k − R)·stride] over the positions that lie inside the line (borders). */
function cutWindow(src: ArrayLike<number>, c: number, stride: number, pos: number, length: number): number {
  const lo = Math.max(-SSIM_RADIUS, -pos);
  const hi = Math.min(SSIM_RADIUS, length - 1 - pos);
  let sum = 0;
  for (let k = lo; k <= hi; k++) sum += TAPS[k + SSIM_RADIUS] * src[c + k * stride];
  return sum;
}

/**
 * Σ over one H×W plane of the SSIM map
 *   SSIM = (2 μa μb + C1)(2 σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)),
 * μ, σ the local statistics under the Gaussian window, cut at the borders and re-normalised
 * (the same as averaging only the pixels that exist). Separable: a horizontal pass into
 * `s.planes`, then a vertical pass one output row at a time into `s.rows`. Where the whole
 * window fits, the symmetric taps are unrolled by hand (R = 5): this is the hot path of
 * trainingLoss, and V8 does not unroll or vectorise for us.
 */
function ssimPlaneSum(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  s: SsimScratch,
): number {
  const { h, w, invMassW, invMassH, planes, rows } = s;
  const [px, py, pxx, pyy, pxy] = planes;
  const [qaa, qbb, qab] = s.products;
  const R = SSIM_RADIUS;
  const jLo = Math.min(R, w);
  const jHi = Math.max(jLo, w - R);
  // 1. horizontal pass: the five statistics of every pixel, along its row
  for (let i = 0; i < h; i++) {
    const ra = ao + i * w;
    const rb = bo + i * w;
    const base = i * w;
    for (let j = 0; j < w; j++) {
      const x = a[ra + j];
      const y = b[rb + j];
      qaa[j] = x * x;
      qbb[j] = y * y;
      qab[j] = x * y;
    }
    for (let j = 0; j < w; j++) {
      if (j === jLo) j = jHi; // the interior is done below
      if (j >= w) break;
      const m = invMassW[j];
      px[base + j] = cutWindow(a, ra + j, 1, j, w) * m;
      py[base + j] = cutWindow(b, rb + j, 1, j, w) * m;
      pxx[base + j] = cutWindow(qaa, j, 1, j, w) * m;
      pyy[base + j] = cutWindow(qbb, j, 1, j, w) * m;
      pxy[base + j] = cutWindow(qab, j, 1, j, w) * m;
    }
    const m = invMassW[Math.min(jLo, w - 1)]; // full-window mass (unused when there is no interior)
    for (let j = jLo; j < jHi; j++) {
      const ca = ra + j;
      const cb = rb + j;
      px[base + j] =
        (T0 * a[ca] +
          T1 * (a[ca - 1] + a[ca + 1]) +
          T2 * (a[ca - 2] + a[ca + 2]) +
          T3 * (a[ca - 3] + a[ca + 3]) +
          T4 * (a[ca - 4] + a[ca + 4]) +
          T5 * (a[ca - 5] + a[ca + 5])) *
        m;
      py[base + j] =
        (T0 * b[cb] +
          T1 * (b[cb - 1] + b[cb + 1]) +
          T2 * (b[cb - 2] + b[cb + 2]) +
          T3 * (b[cb - 3] + b[cb + 3]) +
          T4 * (b[cb - 4] + b[cb + 4]) +
          T5 * (b[cb - 5] + b[cb + 5])) *
        m;
      pxx[base + j] =
        (T0 * qaa[j] +
          T1 * (qaa[j - 1] + qaa[j + 1]) +
          T2 * (qaa[j - 2] + qaa[j + 2]) +
          T3 * (qaa[j - 3] + qaa[j + 3]) +
          T4 * (qaa[j - 4] + qaa[j + 4]) +
          T5 * (qaa[j - 5] + qaa[j + 5])) *
        m;
      pyy[base + j] =
        (T0 * qbb[j] +
          T1 * (qbb[j - 1] + qbb[j + 1]) +
          T2 * (qbb[j - 2] + qbb[j + 2]) +
          T3 * (qbb[j - 3] + qbb[j + 3]) +
          T4 * (qbb[j - 4] + qbb[j + 4]) +
          T5 * (qbb[j - 5] + qbb[j + 5])) *
        m;
      pxy[base + j] =
        (T0 * qab[j] +
          T1 * (qab[j - 1] + qab[j + 1]) +
          T2 * (qab[j - 2] + qab[j + 2]) +
          T3 * (qab[j - 3] + qab[j + 3]) +
          T4 * (qab[j - 4] + qab[j + 4]) +
          T5 * (qab[j - 5] + qab[j + 5])) *
        m;
    }
  }
  // 2. vertical pass, one output row at a time, then the SSIM formula on that row
  let total = 0;
  for (let i = 0; i < h; i++) {
    const m = invMassH[i];
    const base = i * w;
    const interior = i >= R && i < h - R;
    for (let p = 0; p < 5; p++) {
      const plane = planes[p];
      const row = rows[p];
      if (interior) {
        for (let j = 0; j < w; j++) {
          const c = base + j;
          row[j] =
            (T0 * plane[c] +
              T1 * (plane[c - w] + plane[c + w]) +
              T2 * (plane[c - w * 2] + plane[c + w * 2]) +
              T3 * (plane[c - w * 3] + plane[c + w * 3]) +
              T4 * (plane[c - w * 4] + plane[c + w * 4]) +
              T5 * (plane[c - w * 5] + plane[c + w * 5])) *
            m;
        }
      } else {
        for (let j = 0; j < w; j++) row[j] = cutWindow(plane, base + j, w, i, h) * m;
      }
    }
    const [mxRow, myRow, exxRow, eyyRow, exyRow] = rows;
    for (let j = 0; j < w; j++) {
      const mx = mxRow[j];
      const my = myRow[j];
      const varX = exxRow[j] - mx * mx;
      const varY = eyyRow[j] - my * my;
      const cov = exyRow[j] - mx * my;
      total +=
        ((2 * mx * my + SSIM_C1) * (2 * cov + SSIM_C2)) /
        ((mx * mx + my * my + SSIM_C1) * (varX + varY + SSIM_C2));
    }
  }
  return total;
}

/** d of one sample of C×H×W values starting at `ao` / `bo`. */
export type SimilarityKernel = (
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  c: number,
  h: number,
  w: number,
  scratch: SsimScratch,
) => number;

/** Mean SSIM over C, H, W, not clamped (in [−1, 1]): the one home of the SSIM formula in TS. */
export function ssimKernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  c: number,
  h: number,
  w: number,
  scratch: SsimScratch,
): number {
  const plane = h * w;
  let total = 0;
  for (let ch = 0; ch < c; ch++) total += ssimPlaneSum(a, ao + ch * plane, b, bo + ch * plane, scratch);
  return total / (c * plane);
}

function clampUnit(v: number): number {
  return v < 0 ? 0 : Math.min(v, 1);
}

function dSsimKernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  c: number,
  h: number,
  w: number,
  scratch: SsimScratch,
): number {
  return clampUnit(ssimKernel(a, ao, b, bo, c, h, w, scratch));
}

function oneMinusL1Kernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  c: number,
  h: number,
  w: number,
): number {
  return 1 - l1Kernel(a, ao, b, bo, c * h * w);
}

function nccKernel(
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  c: number,
  h: number,
  w: number,
): number {
  const n = c * h * w;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    sa += a[ao + i];
    sb += b[bo + i];
  }
  const ma = sa / n;
  const mb = sb / n;
  let vaa = 0;
  let vbb = 0;
  let vab = 0;
  for (let i = 0; i < n; i++) {
    const x = a[ao + i] - ma;
    const y = b[bo + i] - mb;
    vaa += x * x;
    vbb += y * y;
    vab += x * y;
  }
  const varA = vaa / n;
  const varB = vbb / n;
  const flatA = varA < NCC_FLAT_VARIANCE;
  const flatB = varB < NCC_FLAT_VARIANCE;
  if (flatA || flatB) return flatA && flatB ? 1 : 0;
  return clampUnit(vab / n / Math.sqrt(varA * varB));
}

export const SIMILARITY_KERNELS: Readonly<Record<SimilarityName, SimilarityKernel>> = {
  ssim: dSsimKernel,
  "1-l1": oneMinusL1Kernel,
  ncc: nccKernel,
};

/** Checks a (B, C, H, W) pair like Python `_check_pair` and applies `kernel` per sample. */
function perSample(kernel: SimilarityKernel, a: Tensor, b: Tensor): Tensor {
  checkTensor("a", a, { ndim: 4, layout: "(B, C, H, W)" });
  checkTensor("b", b, { ndim: 4, layout: "(B, C, H, W)" });
  checkSameShape(["a", "b"], [a, b]);
  const [batch, c, h, w] = a.shape;
  const n = c * h * w;
  const scratch = new SsimScratch(h, w);
  const out = new Float64Array(batch);
  for (let s = 0; s < batch; s++) out[s] = kernel(a.data, s * n, b.data, s * n, c, h, w, scratch);
  return tensor(out, [batch]);
}

/** Mean SSIM per sample, NOT clamped. (B, C, H, W) ×2 → (B,). Mirrors Python `ssim_per_sample`. */
export function ssimPerSample(a: Tensor, b: Tensor): Tensor {
  return perSample(ssimKernel, a, b);
}

/** d_ssim(A, B) = clamp(mean SSIM(A, B), 0, 1). (B, C, H, W) ×2 → (B,). Mirrors Python `d_ssim`. */
export function dSsim(a: Tensor, b: Tensor): Tensor {
  return perSample(dSsimKernel, a, b);
}

/** d_1-l1(A, B) = 1 − mean_{c,h,w} |A − B|. (B, C, H, W) ×2 → (B,). Mirrors Python `d_one_minus_l1`. */
export function dOneMinusL1(a: Tensor, b: Tensor): Tensor {
  return perSample(oneMinusL1Kernel, a, b);
}

/**
 * d_ncc(A, B) = clamp(cov(A, B) / √(var A · var B), 0, 1) over c,h,w; both flat → 1, one flat → 0.
 * (B, C, H, W) ×2 → (B,). Mirrors Python `d_ncc`.
 */
export function dNcc(a: Tensor, b: Tensor): Tensor {
  return perSample(nccKernel, a, b);
}

export const SIMILARITY_FUNCTIONS: Readonly<Record<SimilarityName, (a: Tensor, b: Tensor) => Tensor>> = {
  ssim: dSsim,
  "1-l1": dOneMinusL1,
  ncc: dNcc,
};

/** d by name; an unknown name throws LossInputError listing the allowed ones. Mirrors Python `similarity`. */
export function similarity(name: SimilarityName, a: Tensor, b: Tensor): Tensor {
  return SIMILARITY_FUNCTIONS[checkChoice("d", name, SIMILARITY_NAMES)](a, b);
}
