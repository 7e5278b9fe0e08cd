/**
 * The image branch's motion at the scale its network was trained at (the trainer's
 * models/motion_scale.py; shared vectors in motion-scale.test.ts and test_model_motion_scale.py).
 * A network trained on 64 px frames sees every structure of a 128 px still twice as large as it
 * ever saw one: the synthetic-only quickstart model pulled real stills by 4-5 px on its first step
 * at 128 px, 0.2-0.4 px at 64 px (docs/generation.md, "The scene at its training scale"). So
 * composed roll-outs run the branch on the frame box-averaged f times per side:
 *
 *   f = max(1, floor(max(H, W) / S))         S the model's training frame size (run_config data.size)
 *   x' = box_f(pad_f(x))                     x = image and mask; pad_f repeats the last row and
 *                                            column up to a multiple of f (work-scale.ts boxDown)
 *   (u_f, r_f) = the branch's step at x'     (Generator.stepField)
 *   u~ = f up_f(u_f)[:H, :W]                 up_f bilinear, half-pixel centres (work-scale.ts)
 *   u  = clamp(p + u~, 0, (W - 1, H - 1)) - p
 *   r~ = up_f(r_f)[:H, :W],  r = r~ - mean_{H,W}(r~)   per channel
 */
import { invalidArgument } from "./errors.js";
import type { FieldStep, Generator } from "./generator.js";
import type { FloatImage, Mask } from "./image-types.js";
import { sourcesInFrame } from "./still-to-video-compose.js";
import { bilinearUp, boxDown } from "./work-scale.js";

/** Throws INVALID_ARGUMENT naming option `name` unless f is an integer >= 1. */
export function checkMotionDownsample(f: number, name = "motionDownsample"): void {
  if (!Number.isInteger(f) || f < 1) throw invalidArgument(name, f, "an integer >= 1");
}

/** f = max(1, floor(max(H, W) / S)); 1 when the training size S is unknown (undefined). */
export function motionDownsample(trainingSize: number | undefined, height: number, width: number): number {
  if (trainingSize === undefined) return 1;
  checkMotionDownsample(trainingSize, "trainingSize");
  return Math.max(1, Math.floor(Math.max(height, width) / trainingSize));
}

/** data.size of a run config's JSON (an export's `run_config` metadata); undefined where absent. */
export function trainingSize(runConfig: string | undefined): number | undefined {
  if (runConfig === undefined) return undefined;
  let size: unknown;
  try {
    size = JSON.parse(runConfig)?.data?.size;
  } catch {
    return undefined; // not JSON: the export says nothing usable about its training size
  }
  return typeof size === "number" && Number.isInteger(size) && size >= 1 ? size : undefined;
}

/** box_f(pad_f(x)): (C, H, W) -> (C, ceil(H / f), ceil(W / f)). */
export function downForMotion(image: FloatImage, f: number): FloatImage {
  checkMotionDownsample(f);
  if (f === 1) return image;
  const { channels, height, width } = image;
  const H = Math.ceil(height / f) * f;
  const W = Math.ceil(width / f) * f;
  if (H === height && W === width) return boxDown(image, f);
  const data = new Float32Array(channels * H * W);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < H; i++) {
      const src = c * height * width + Math.min(i, height - 1) * width;
      const dst = c * H * W + i * W;
      for (let j = 0; j < W; j++) data[dst + j] = image.data[src + Math.min(j, width - 1)];
    }
  }
  return boxDown({ data, channels, height: H, width: W }, f);
}

/** Plane `c` of (C, h, w) data brought up by f and cropped to (height, width). */
function upPlane(
  data: Float32Array,
  c: number,
  h: number,
  w: number,
  f: number,
  height: number,
  width: number,
): Float32Array {
  const up = bilinearUp({ data: data.subarray(c * h * w, (c + 1) * h * w), height: h, width: w }, f);
  const out = new Float32Array(height * width);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) out[i * width + j] = up.data[i * up.width + j];
  }
  return out;
}

/** (u, r) at (height, width) from the branch's step at the small size (module comment). */
export function upFromMotion(small: FieldStep, f: number, height: number, width: number): FieldStep {
  checkMotionDownsample(f);
  if (f === 1) return small;
  const { height: h, width: w } = small.field;
  const n = height * width;
  const up = new Float32Array(2 * n);
  up.set(upPlane(small.field.data, 0, h, w, f, height, width));
  up.set(upPlane(small.field.data, 1, h, w, f, height, width), n);
  const field = sourcesInFrame({ data: up, height, width }, f);
  const channels = small.residual.length / (h * w);
  const residual = new Float32Array(channels * n);
  for (let c = 0; c < channels; c++) {
    const plane = upPlane(small.residual, c, h, w, f, height, width);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += plane[i];
    const mean = sum / n;
    for (let i = 0; i < n; i++) residual[c * n + i] = plane[i] - mean;
  }
  return { field, residual };
}

/** The branch's (u, r) at (image, mask), its network run f times smaller per side. */
export async function motionAtScale(
  generator: Generator,
  image: FloatImage,
  mask: Mask,
  f: number,
): Promise<FieldStep> {
  if (f === 1) return generator.stepField(image, mask);
  const small = downForMotion(image, f);
  const smallMask = downForMotion({ ...mask, channels: 1 }, f);
  const step = await generator.stepField(small, {
    data: smallMask.data,
    height: smallMask.height,
    width: smallMask.width,
  });
  return upFromMotion(step, f, image.height, image.width);
}
