/**
 * The orthonormal DCT-II of a vector and its inverse in O(n log n) for any length, so that
 * scene-incompressible.ts projects a 512 px field in milliseconds instead of a second of dense
 * matrix products. The transform is the dense one's, C[k, i] = s_k cos(pi k (2i + 1) / 2n), s_0 =
 * sqrt(1 / n), s_k = sqrt(2 / n) (`dctBasis`; fast-dct.test.ts compares the two):
 *
 *   forward (Makhoul 1980): v = (x_0, x_2, x_4, ..., x_5, x_3, x_1),  V = DFT(v),
 *                           X_k = s_k Re(exp(-i pi k / 2n) V_k)
 *   inverse: Y_k = X_k / s_k (Y_n = 0),  V_k = exp(i pi k / 2n) (Y_k - i Y_{n-k}),
 *            v = DFT^-1(V),  x_{2i} = v_i,  x_{2i+1} = v_{n-1-i}
 *
 * The DFT is an in-place radix-2 Cooley-Tukey for powers of two; any other length goes through
 * Bluestein's chirp-z identity, jk = (j^2 + k^2 - (k - j)^2) / 2, as a circular convolution of a
 * power-of-two length m >= 2n - 1 (three radix-2 DFTs, the filter's precomputed per length).
 */

/** An in-place radix-2 DFT of a power-of-two length: bit-reversal order, twiddles. */
interface Radix2 {
  n: number;
  reversed: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

/** Bluestein's DFT of any length n as a convolution of length m (a power of two >= 2n - 1). */
interface Bluestein {
  n: number;
  fft: Radix2;
  chirpRe: Float64Array; // exp(-i pi k^2 / n), k < n
  chirpIm: Float64Array;
  filterRe: Float64Array; // DFT of the conjugate chirp, wrapped around
  filterIm: Float64Array;
  re: Float64Array; // scratch of length m
  im: Float64Array;
}

const radix2Plans = new Map<number, Radix2>();
const bluesteinPlans = new Map<number, Bluestein>();

function radix2(n: number): Radix2 {
  let plan = radix2Plans.get(n);
  if (!plan) {
    const bits = Math.round(Math.log2(n));
    const reversed = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      reversed[i] = r;
    }
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    plan = { n, reversed, cos, sin };
    radix2Plans.set(n, plan);
  }
  return plan;
}

/** The forward DFT X_k = sum_j x_j exp(-2 pi i j k / n) in place, n a power of two. */
function radix2Dft(plan: Radix2, re: Float64Array, im: Float64Array): void {
  const { n, reversed, cos, sin } = plan;
  for (let i = 0; i < n; i++) {
    const j = reversed[i];
    if (j > i) {
      const tr = re[i];
      re[i] = re[j];
      re[j] = tr;
      const ti = im[i];
      im[i] = im[j];
      im[j] = ti;
    }
  }
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sin[k * step];
        const a = start + k;
        const b = a + half;
        const xr = re[b] * wr - im[b] * wi;
        const xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
    }
  }
}

function bluestein(n: number): Bluestein {
  let plan = bluesteinPlans.get(n);
  if (!plan) {
    let m = 1;
    while (m < 2 * n - 1) m *= 2;
    const chirpRe = new Float64Array(n);
    const chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const angle = (Math.PI * ((k * k) % (2 * n))) / n; // k^2 mod 2n keeps the angle exact
      chirpRe[k] = Math.cos(angle);
      chirpIm[k] = -Math.sin(angle);
    }
    const filterRe = new Float64Array(m);
    const filterIm = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      filterRe[k] = chirpRe[k];
      filterIm[k] = -chirpIm[k];
      if (k > 0) {
        filterRe[m - k] = chirpRe[k];
        filterIm[m - k] = -chirpIm[k];
      }
    }
    const fft = radix2(m);
    radix2Dft(fft, filterRe, filterIm);
    plan = { n, fft, chirpRe, chirpIm, filterRe, filterIm, re: new Float64Array(m), im: new Float64Array(m) };
    bluesteinPlans.set(n, plan);
  }
  return plan;
}

/** The forward DFT of (re, im), length n, in place: radix 2 for a power of two, else Bluestein. */
function dft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if ((n & (n - 1)) === 0) {
    radix2Dft(radix2(n), re, im);
    return;
  }
  // X_k = w_k sum_j (x_j w_j) conj(w_{k-j}), w_k = exp(-i pi k^2 / n): a convolution
  const plan = bluestein(n);
  const { chirpRe: cr, chirpIm: ci, filterRe: fr, filterIm: fi, re: ar, im: ai } = plan;
  const m = ar.length;
  ar.fill(0);
  ai.fill(0);
  for (let k = 0; k < n; k++) {
    ar[k] = re[k] * cr[k] - im[k] * ci[k];
    ai[k] = re[k] * ci[k] + im[k] * cr[k];
  }
  radix2Dft(plan.fft, ar, ai);
  for (let k = 0; k < m; k++) {
    // times the filter, conjugated: the inverse DFT as a forward one of the conjugate
    const pr = ar[k] * fr[k] - ai[k] * fi[k];
    const pi = ar[k] * fi[k] + ai[k] * fr[k];
    ar[k] = pr;
    ai[k] = -pi;
  }
  radix2Dft(plan.fft, ar, ai);
  for (let k = 0; k < n; k++) {
    const yr = ar[k] / m;
    const yi = -ai[k] / m;
    re[k] = yr * cr[k] - yi * ci[k];
    im[k] = yr * ci[k] + yi * cr[k];
  }
}

/** Per length: cos and sin of pi k / 2n and the orthonormal scale s_k, k < n. */
interface Rotation {
  cos: Float64Array;
  sin: Float64Array;
  scale: Float64Array;
}

const rotations = new Map<number, Rotation>();

function rotation(n: number): Rotation {
  let r = rotations.get(n);
  if (!r) {
    const cos = new Float64Array(n);
    const sin = new Float64Array(n);
    const scale = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      cos[k] = Math.cos((Math.PI * k) / (2 * n));
      sin[k] = Math.sin((Math.PI * k) / (2 * n));
      scale[k] = Math.sqrt((k === 0 ? 1 : 2) / n);
    }
    r = { cos, sin, scale };
    rotations.set(n, r);
  }
  return r;
}

/** The orthonormal DCT-II of x (length n), a new array. */
export function dctForward(x: Float64Array): Float64Array {
  const n = x.length;
  const { cos, sin, scale } = rotation(n);
  const vRe = new Float64Array(n);
  const vIm = new Float64Array(n);
  for (let i = 0; 2 * i < n; i++) vRe[i] = x[2 * i];
  for (let i = 0; 2 * i + 1 < n; i++) vRe[n - 1 - i] = x[2 * i + 1];
  dft(vRe, vIm);
  const out = new Float64Array(n);
  // s_k Re(exp(-i a) V_k), a = pi k / 2n
  for (let k = 0; k < n; k++) out[k] = scale[k] * (vRe[k] * cos[k] + vIm[k] * sin[k]);
  return out;
}

/** The inverse (the transpose) of `dctForward`: x from its coefficients, a new array. */
export function dctInverse(coeffs: Float64Array): Float64Array {
  const n = coeffs.length;
  const { cos, sin, scale } = rotation(n);
  const vRe = new Float64Array(n);
  const vIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const zr = coeffs[k] / scale[k];
    const zi = k === 0 ? 0 : -coeffs[n - k] / scale[n - k];
    // exp(i a) (zr + i zi), conjugated: the inverse DFT as a forward one of the conjugate
    vRe[k] = cos[k] * zr - sin[k] * zi;
    vIm[k] = -(sin[k] * zr + cos[k] * zi);
  }
  dft(vRe, vIm);
  const out = new Float64Array(n);
  for (let i = 0; 2 * i < n; i++) out[2 * i] = vRe[i] / n;
  for (let i = 0; 2 * i + 1 < n; i++) out[2 * i + 1] = vRe[n - 1 - i] / n;
  return out;
}
