/**
 * The "random" initial mask of METHOD.md (step 1 and Inference, Fig. 5 t = 0), with the same
 * distribution the trainer feeds at the first step of a walk, so a roll-out starts from the kind
 * of mask the model saw in training. Mirrors Python
 * `stillmotion_trainer.training.initial_mask.random_blob_mask` (same distribution, not the same
 * random stream):
 *
 *   N(0, 1) noise on a coarse grid of ceil(H/8) x ceil(W/8) cells (at least 2 x 2), bilinearly
 *   upsampled to H x W (half-pixel centres, like align_corners=False), thresholded so that a
 *   fraction a ~ U(0.05, 0.5) of the pixels is 1. Binary {0, 1}: one to a few lesion-sized blobs.
 *
 * Randomness comes from a small seeded PRNG (mulberry32), so a roll-out is reproducible.
 */
import type { Mask } from "./image-types.js";

export const BLOB_CELL = 8;
export const MIN_AREA = 0.05;
export const MAX_AREA = 0.5;

export function randomMask(height: number, width: number, seed = 0): Mask {
  const next = mulberry32(seed);
  const gh = Math.max(2, Math.ceil(height / BLOB_CELL));
  const gw = Math.max(2, Math.ceil(width / BLOB_CELL));
  const noise = new Float64Array(gh * gw);
  for (let i = 0; i < noise.length; i++) noise[i] = gaussian(next);
  const smooth = bilinear(noise, gh, gw, height, width);
  const area = MIN_AREA + (MAX_AREA - MIN_AREA) * next();
  const on = Math.max(1, Math.round(area * height * width)); // pixels set to 1
  const threshold = Float64Array.from(smooth).sort()[height * width - on];
  const data = new Float32Array(height * width);
  for (let i = 0; i < data.length; i++) data[i] = smooth[i] >= threshold ? 1 : 0;
  return { data, height, width };
}

/** Bilinear resize of a (h, w) grid to (H, W) with half-pixel centres (align_corners=False). */
function bilinear(src: Float64Array, h: number, w: number, outH: number, outW: number): Float64Array {
  const out = new Float64Array(outH * outW);
  const coord = (i: number, scale: number, size: number): [number, number, number] => {
    const x = Math.max(0, (i + 0.5) * scale - 0.5);
    const x0 = Math.min(Math.floor(x), size - 1);
    const x1 = Math.min(x0 + 1, size - 1);
    return [x0, x1, x - x0];
  };
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = coord(y, h / outH, h);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, fx] = coord(x, w / outW, w);
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[y * outW + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** A standard normal draw (Box-Muller). */
export function gaussian(next: () => number): number {
  const u = 1 - next(); // (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

/** A 32-bit PRNG returning floats in [0, 1); tiny, fast, good enough for masks. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
