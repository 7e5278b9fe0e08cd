/**
 * A generated clip at a glance: `count` evenly spaced frames side by side (the still first, the
 * last frame last), each with its mask's outline drawn in, as one PNG. The outline is the set
 * of lesion pixels (mask >= 0.5) with a 4-neighbour outside the lesion, so the picture shows
 * both what the image does and whether the mask still sits on it.
 */
import { encodePng, type FloatImage, type Mask, type RawPixels } from "@stillmotion/inference";

export interface ContactSheetOptions {
  /** Frames shown; default 9 (0, 2, 4, ... of a 16-step clip). */
  count?: number;
  /** Pixels between frames; default 2. */
  gap?: number;
  /** Outline colour, RGB 0..255; default [64, 255, 64] (green: visible on red tissue and grey ultrasound). */
  color?: readonly [number, number, number];
}

/** Indices of `count` evenly spaced frames of `length`, first and last included. */
export function sheetFrames(length: number, count: number): number[] {
  const n = Math.max(1, Math.min(count, length));
  return Array.from({ length: n }, (_, i) => Math.round((i * (length - 1)) / Math.max(1, n - 1)));
}

/** True where the mask is lesion (>= 0.5) and a 4-neighbour inside the frame is not. */
export function outline(mask: Mask): Uint8Array {
  const { height: h, width: w, data } = mask;
  const out = new Uint8Array(h * w);
  const inside = (y: number, x: number) => data[y * w + x] >= 0.5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!inside(y, x)) continue;
      const edge =
        (y > 0 && !inside(y - 1, x)) ||
        (y < h - 1 && !inside(y + 1, x)) ||
        (x > 0 && !inside(y, x - 1)) ||
        (x < w - 1 && !inside(y, x + 1));
      if (edge) out[y * w + x] = 1;
    }
  }
  return out;
}

/** The sheet as interleaved RGB pixels (white gaps; grey frames replicated to RGB). */
export function contactSheetPixels(
  frames: readonly FloatImage[],
  masks: readonly Mask[],
  options: ContactSheetOptions = {},
): RawPixels {
  const picks = sheetFrames(frames.length, options.count ?? 9);
  const gap = options.gap ?? 2;
  const color = options.color ?? [64, 255, 64];
  const { height: h, width: w, channels: c } = frames[0];
  const sheetW = picks.length * w + (picks.length - 1) * gap;
  const data = new Uint8Array(sheetW * h * 3).fill(255);
  picks.forEach((t, i) => {
    const edge = outline(masks[t]);
    const x0 = i * (w + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const o = (y * sheetW + x0 + x) * 3;
        for (let k = 0; k < 3; k++) {
          const v = edge[p] ? color[k] : frames[t].data[(c === 1 ? 0 : k) * h * w + p] * 255;
          data[o + k] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
  });
  return { data, channels: 3, height: h, width: sheetW };
}

/** The sheet as PNG bytes. */
export async function contactSheetPng(
  frames: readonly FloatImage[],
  masks: readonly Mask[],
  options: ContactSheetOptions = {},
): Promise<Buffer> {
  return encodePng(contactSheetPixels(frames, masks, options));
}
