/**
 * Still -> video with composed fields, for a model with the warp image head (`image_head:
 * "warp"`): the image branch predicts a step (u_t, r_t) from the current frame (ONNX outputs
 * `next_field`, `next_residual`), and the frame is the still sampled once at the composed map
 * instead of the previous frame resampled (bicubic resampling compounds into blur: sharpness
 * 0.40 of the still's after 16 steps on the 50 real stills, docs/generation.md). Mirrors Python
 * python-trainer/stillmotion_trainer/models/still_to_video.py:
 *
 *     v_t(p)     = clamp(p + k u_t(p), frame) - p            k the motion strength (default 1)
 *     Phi_{t+1}  = v_t + warpBilinear(Phi_t, v_t)              Phi_0 = 0
 *     R_{t+1}    = sampleBicubic(R_t, v_t) + r_t               R_0 = 0
 *     I_{t+1}    = clamp(sampleStill(I_0, Phi_{t+1}) + R_{t+1}, 0, 1)
 *     M_{t+1}    = clamp(warpBilinear(M_0, Phi_{t+1}), 0, 1)
 *
 * sampleStill is `sampleDetailed` (detail-sampling.ts: the still's fine detail moved by whole
 * pixels, its smooth base bicubic) with the state's detail layer, `sampleBicubic` without one.
 */
import { DEFAULT_DETAIL, sampleNearest, splitDetail } from "./detail-sampling.js";
import { invalidArgument } from "./errors.js";
import type { FloatImage, Mask } from "./image-types.js";

/** A field in pixels, channel 0 = dx, channel 1 = dy: data (2, H, W). */
export interface Field {
  data: Float32Array;
  height: number;
  width: number;
}

/** Keys' cubic convolution parameter of PyTorch's and onnxruntime's bicubic GridSample. */
const A = -0.75;

/** The four cubic-convolution weights of taps floor(x) - 1 .. floor(x) + 2 at fraction t. */
function cubicWeights(t: number, out: Float64Array): void {
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  out[0] = far(t + 1);
  out[1] = near(t);
  out[2] = near(1 - t);
  out[3] = far(2 - t);
}

const clampIndex = (i: number, n: number) => (i < 0 ? 0 : i >= n ? n - 1 : i);

/**
 * out(p) = x(p + field(p)), bicubic (a = -0.75), each tap clamped to the frame (edges repeated):
 * torch.nn.functional.grid_sample(mode="bicubic", padding_mode="border", align_corners=False) at
 * pixel coordinates, as Python models/image_warp.sample_image. x data (C, H, W).
 */
export function sampleBicubic(
  x: { data: Float32Array; channels: number; height: number; width: number },
  field: Field,
): Float32Array {
  const { channels: c, height: h, width: w } = x;
  checkField(field, h, w);
  const out = new Float32Array(c * h * w);
  const wx = new Float64Array(4);
  const wy = new Float64Array(4);
  const n = h * w;
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const i = py * w + px;
      const sx = px + field.data[i];
      const sy = py + field.data[n + i];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      cubicWeights(sx - x0, wx);
      cubicWeights(sy - y0, wy);
      for (let ch = 0; ch < c; ch++) {
        const base = ch * n;
        let acc = 0;
        for (let j = 0; j < 4; j++) {
          const row = base + clampIndex(y0 - 1 + j, h) * w;
          let r = 0;
          for (let k = 0; k < 4; k++) r += wx[k] * x.data[row + clampIndex(x0 - 1 + k, w)];
          acc += wy[j] * r;
        }
        out[base + i] = acc;
      }
    }
  }
  return out;
}

/** out(p) = bicubic(still - detail, p + field(p)) + detail(nearest(p + field(p))): detail-sampling.ts
 * (Python models/detail_sampling.sample_detailed). */
export function sampleDetailed(still: FloatImage, detail: Float32Array, field: Field): Float32Array {
  const out = sampleBicubic({ ...still, data: still.data.map((v, i) => v - detail[i]) }, field);
  const fine = sampleNearest({ ...still, data: detail }, field);
  for (let i = 0; i < out.length; i++) out[i] += fine[i];
  return out;
}

/**
 * out(p) = x(p + field(p)), bilinear, zeros outside the frame: grid_sample(mode="bilinear",
 * padding_mode="zeros", align_corners=False) at pixel coordinates, as Python models/warp.warp.
 * x data (C, H, W).
 */
export function warpBilinear(
  x: { data: Float32Array; channels: number; height: number; width: number },
  field: Field,
): Float32Array {
  const { channels: c, height: h, width: w } = x;
  checkField(field, h, w);
  const out = new Float32Array(c * h * w);
  const n = h * w;
  const at = (base: number, yy: number, xx: number) =>
    xx < 0 || yy < 0 || xx >= w || yy >= h ? 0 : x.data[base + yy * w + xx];
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const i = py * w + px;
      const sx = px + field.data[i];
      const sy = py + field.data[n + i];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const tx = sx - x0;
      const ty = sy - y0;
      for (let ch = 0; ch < c; ch++) {
        const b = ch * n;
        const top = (1 - tx) * at(b, y0, x0) + tx * at(b, y0, x0 + 1);
        const bottom = (1 - tx) * at(b, y0 + 1, x0) + tx * at(b, y0 + 1, x0 + 1);
        out[b + i] = (1 - ty) * top + ty * bottom;
      }
    }
  }
  return out;
}

/** v(p) = clamp(p + gain u(p), 0, (W - 1, H - 1)) - p: every source inside the frame (Python
 * models/warp.sources_in_frame). */
export function sourcesInFrame(u: Field, gain = 1): Field {
  const { height: h, width: w } = u;
  const n = h * w;
  const data = new Float32Array(2 * n);
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const i = py * w + px;
      data[i] = Math.min(Math.max(px + gain * u.data[i], 0), w - 1) - px;
      data[n + i] = Math.min(Math.max(py + gain * u.data[n + i], 0), h - 1) - py;
    }
  }
  return { data, height: h, width: w };
}

/** v = clamp(p + k u, frame) - p: a step scaled by the motion strength k, sources in the frame
 * (Python models/still_to_video.scale_field). */
export function scaleField(u: Field, strength: number): Field {
  return strength === 1 ? u : sourcesInFrame(u, strength);
}

/** One frame of a composed roll-out (Python models/still_to_video.ComposedState). */
export interface ComposedState {
  still: FloatImage;
  stillMask: Mask;
  /** Phi_t, (2, H, W) pixels. */
  field: Field;
  /** R_t, (C, H, W). */
  residual: Float32Array;
  image: FloatImage;
  mask: Mask;
  /** The still's fine detail (detail-sampling.ts splitDetail); absent: the still is sampled bicubic. */
  detail?: Float32Array;
}

/** t = 0: the still and its mask, Phi_0 = 0, R_0 = 0; the still's fine detail split off once for
 * detail-preserving sampling with sigma `detail` (0: bicubic). */
export function startComposed(still: FloatImage, mask: Mask, detail = DEFAULT_DETAIL): ComposedState {
  const { height: h, width: w } = still;
  const layer = splitDetail(still, detail); // checks detail >= 0
  return {
    still,
    stillMask: mask,
    field: { data: new Float32Array(2 * h * w), height: h, width: w },
    residual: new Float32Array(still.data.length),
    image: still,
    mask,
    ...(detail > 0 ? { detail: layer } : {}),
  };
}

/** The next state from a (scaled) step v and residual r (C, H, W): the formulas above. */
export function compose(state: ComposedState, v: Field, r: Float32Array): ComposedState {
  const { channels: c, height: h, width: w } = state.still;
  const n = h * w;
  const carried = warpBilinear({ data: state.field.data, channels: 2, height: h, width: w }, v);
  for (let i = 0; i < 2 * n; i++) carried[i] += v.data[i];
  const field = { data: carried, height: h, width: w };
  const residual = sampleBicubic({ data: state.residual, channels: c, height: h, width: w }, v);
  for (let i = 0; i < residual.length; i++) residual[i] += r[i];
  const image = state.detail
    ? sampleDetailed(state.still, state.detail, field)
    : sampleBicubic(state.still, field);
  for (let i = 0; i < image.length; i++) image[i] = Math.min(Math.max(image[i] + residual[i], 0), 1);
  const mask = warpBilinear({ data: state.stillMask.data, channels: 1, height: h, width: w }, field);
  for (let i = 0; i < mask.length; i++) mask[i] = Math.min(Math.max(mask[i], 0), 1);
  return {
    still: state.still,
    stillMask: state.stillMask,
    field,
    residual,
    image: { data: image, channels: c, height: h, width: w },
    mask: { data: mask, height: h, width: w },
    ...(state.detail ? { detail: state.detail } : {}),
  };
}

function checkField(field: Field, h: number, w: number): void {
  if (field.height !== h || field.width !== w || field.data.length !== 2 * h * w) {
    throw invalidArgument(
      "field",
      `${field.data.length} values for ${field.height} x ${field.width}`,
      `2 x ${h} x ${w} values`,
    );
  }
}
