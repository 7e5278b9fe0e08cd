/**
 * Detail-preserving sampling of a still for composed roll-outs; mirrors Python
 * python-trainer/stillmotion_trainer/models/detail_sampling.py (the reasons are there).
 *
 *     base   = G_sigma * I_0,   detail = I_0 - base       G_sigma separable, x then y, taps
 *                                                         exp(-k^2 / (2 sigma^2)), |k| <= max(1, ceil(3 sigma)),
 *                                                         normalised; indices mirrored (camera-motion.ts)
 *     out(p) = bicubic(base, p + f(p)) + detail(nearest(p + f(p)))
 *     nearest(q) = (clamp(floor(q_x + 1/2), 0, W - 1), clamp(floor(q_y + 1/2), 0, H - 1))
 *
 * The detail (speckle, texture) moves by whole pixels and keeps its sharpness; sigma 0 is plain
 * bicubic. `sampleDetailed` (the formula for out) is in still-to-video-compose.ts, beside
 * `sampleBicubic`.
 */
import { mirror } from "./camera-motion.js";
import { invalidArgument } from "./errors.js";
import type { FloatImage } from "./image-types.js";
import type { Field } from "./still-to-video-compose.js";

/** Default sigma in pixels (Python DEFAULT_DETAIL). */
export const DEFAULT_DETAIL = 1.0;

/** g_k for k = -r..r, r = max(1, ceil(3 sigma)), summing to 1. sigma > 0. */
export function gaussianTaps(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const g = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let k = -r; k <= r; k++) {
    g[k + r] = Math.exp(-(k * k) / (2 * sigma * sigma));
    sum += g[k + r];
  }
  for (let i = 0; i < g.length; i++) g[i] /= sum;
  return g;
}

/** G_sigma * x for x data (C, H, W): along x, then along y, indices mirrored. */
export function blur(x: FloatImage, sigma: number): Float32Array {
  const { channels: c, height: h, width: w } = x;
  const g = gaussianTaps(sigma);
  const r = (g.length - 1) / 2;
  // one pass along lines of n values `stride` apart, each line starting at one of `starts`
  const along = (src: Float32Array, n: number, stride: number, starts: number[]) => {
    const out = new Float32Array(src.length);
    const idx = Array.from({ length: n }, (_, i) => Array.from(g, (_, k) => mirror(i + k - r, n)));
    for (const base of starts) {
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let k = 0; k < g.length; k++) acc += g[k] * src[base + idx[i][k] * stride];
        out[base + i * stride] = acc;
      }
    }
    return out;
  };
  const rows = Array.from({ length: c * h }, (_, i) => i * w);
  const cols = Array.from({ length: c * w }, (_, i) => Math.floor(i / w) * h * w + (i % w));
  return along(along(x.data, w, 1, rows), h, w, cols);
}

/** detail = still - G_sigma * still (C, H, W); sigma >= 0, zeros for 0. */
export function splitDetail(still: FloatImage, sigma: number): Float32Array {
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw invalidArgument("detail", sigma, "a number >= 0");
  if (sigma === 0) return new Float32Array(still.data.length);
  const base = blur(still, sigma);
  return still.data.map((v, i) => v - base[i]);
}

/** out(p) = x(nearest(p + field(p))), edge pixels repeated outside the frame. x data (C, H, W). */
export function sampleNearest(
  x: { data: Float32Array; channels: number; height: number; width: number },
  field: Field,
): Float32Array {
  const { channels: c, height: h, width: w } = x;
  const n = h * w;
  const out = new Float32Array(c * n);
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const i = py * w + px;
      const sx = Math.min(Math.max(Math.floor(px + field.data[i] + 0.5), 0), w - 1);
      const sy = Math.min(Math.max(Math.floor(py + field.data[n + i] + 0.5), 0), h - 1);
      for (let ch = 0; ch < c; ch++) out[ch * n + i] = x.data[ch * n + sy * w + sx];
    }
  }
  return out;
}
