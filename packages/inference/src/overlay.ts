/**
 * Mask-over-frame rendering for previews and overlay videos:
 * out = (1 - alpha * m) * frame + alpha * m * colour, per pixel, with m the soft mask in 0..1.
 * Grayscale frames are replicated to RGB first.
 */
import { invalidArgument } from "./errors.js";
import { checkMask, type FloatImage, type Mask, type RawPixels } from "./image-types.js";

export interface OverlayOptions {
  /** RGB colour of the lesion tint, 0..255 each; default [255, 48, 48]. */
  color?: readonly [number, number, number];
  /** Opacity of the tint where the mask is 1; default 0.45. */
  alpha?: number;
}

/** Frame + mask -> interleaved RGB bytes with the mask tinted in. */
export function overlayPixels(frame: FloatImage, mask: Mask, options: OverlayOptions = {}): RawPixels {
  const color = options.color ?? [255, 48, 48];
  const alpha = options.alpha ?? 0.45;
  if (!(alpha >= 0 && alpha <= 1)) throw invalidArgument("alpha", alpha, "a number in 0..1");
  const { height: h, width: w, channels: c } = frame;
  checkMask("mask", mask, h, w);
  const plane = h * w;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    const a = alpha * Math.min(1, Math.max(0, mask.data[i]));
    for (let k = 0; k < 3; k++) {
      const v = frame.data[(c === 1 ? 0 : k) * plane + i] * 255;
      out[i * 3 + k] = Math.max(0, Math.min(255, Math.round((1 - a) * v + a * color[k])));
    }
  }
  return { data: out, channels: 3, height: h, width: w };
}
