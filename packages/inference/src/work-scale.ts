/**
 * Propagating at a fraction of the frames' resolution (`propagateMasks(..., { downsample: f })`):
 * the model runs on frames f times smaller per side and the masks come back at the frames' size.
 * The model's cost falls about f² (a 256 px stream runs the generator at 128 px: 78 against 25
 * frames/s, docs/models.md "Half size"), for a Dice change on real laryngoscopy of -0.056 to
 * +0.082 (docs/real-data.md, "Working at half size"). The same two formulas as the trainer's
 * models/work_scale.py (shared vectors in work-scale.test.ts and
 * tests/models/test_model_work_scale.py):
 *
 * - down: the f x f box average, y[i, j] = mean of x[f i + a, f j + b] over a, b in 0..f-1;
 * - up: bilinear with half-pixel centres (torch's align_corners=False): output pixel i reads the
 *   input at s = (i + 1/2) / f - 1/2, clamped to >= 0, between floor(s) and floor(s) + 1 (the
 *   last row repeated), weighted by s - floor(s).
 */
import { invalidArgument } from "./errors.js";
import type { FloatImage, Mask } from "./image-types.js";

/** Throws INVALID_ARGUMENT unless f is an integer >= 1 dividing both sides. */
export function checkDownsample(f: number, height: number, width: number): void {
  if (!Number.isInteger(f) || f < 1) throw invalidArgument("downsample", f, "an integer >= 1");
  if (height % f !== 0 || width % f !== 0) {
    throw invalidArgument(
      "downsample",
      f,
      `a factor that divides the frame size ${height}x${width} (or resize the frames first)`,
    );
  }
}

/** Channel-planar (C, H, W) image -> (C, H / f, W / f), each pixel the mean of its f x f block. */
export function boxDown(image: FloatImage, f: number): FloatImage {
  if (f === 1) return image;
  const { channels, height, width } = image;
  const h = height / f;
  const w = width / f;
  const data = new Float32Array(channels * h * w);
  const scale = 1 / (f * f);
  for (let c = 0; c < channels; c++) {
    const src = c * height * width;
    const dst = c * h * w;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let sum = 0;
        for (let a = 0; a < f; a++) {
          const row = src + (f * i + a) * width + f * j;
          for (let b = 0; b < f; b++) sum += image.data[row + b];
        }
        data[dst + i * w + j] = sum * scale;
      }
    }
  }
  return { data, channels, height: h, width: w };
}

/** A mask as a 1-channel image and back (boxDown works on both). */
export function boxDownMask(mask: Mask, f: number): Mask {
  const { data, height, width } = boxDown({ ...mask, channels: 1 }, f);
  return { data, height, width };
}

/** Where output index i of an up-sampling by f reads its input of size n (module comment). */
function sources(n: number, f: number): { lo: Int32Array; hi: Int32Array; t: Float32Array } {
  const lo = new Int32Array(n * f);
  const hi = new Int32Array(n * f);
  const t = new Float32Array(n * f);
  for (let i = 0; i < n * f; i++) {
    const s = Math.max((i + 0.5) / f - 0.5, 0);
    lo[i] = Math.floor(s);
    hi[i] = Math.min(lo[i] + 1, n - 1);
    t[i] = s - lo[i];
  }
  return { lo, hi, t };
}

/** (h, w) mask -> (f h, f w), bilinear with half-pixel centres. */
export function bilinearUp(mask: Mask, f: number): Mask {
  if (f === 1) return mask;
  const { height: h, width: w } = mask;
  const rows = sources(h, f);
  const cols = sources(w, f);
  const W = w * f;
  const data = new Float32Array(h * f * W);
  for (let i = 0; i < h * f; i++) {
    const r0 = rows.lo[i] * w;
    const r1 = rows.hi[i] * w;
    const a = rows.t[i];
    for (let j = 0; j < W; j++) {
      const c0 = cols.lo[j];
      const c1 = cols.hi[j];
      const b = cols.t[j];
      const top = (1 - b) * mask.data[r0 + c0] + b * mask.data[r0 + c1];
      const bottom = (1 - b) * mask.data[r1 + c0] + b * mask.data[r1 + c1];
      data[i * W + j] = (1 - a) * top + a * bottom;
    }
  }
  return { data, height: h * f, width: W };
}
