/**
 * Boundary F-score with a pixel tolerance — evaluation metric (as in the DAVIS benchmark).
 * Mirrors Python `stillmotion_trainer/metrics/boundary_f.py`.
 */

import { LossInputError } from "../errors.js";
import type { Tensor } from "../tensor.js";
import { binaryMaskPair } from "./mask-input.js";

/** Foreground pixels with a 4-neighbour that is background (outside the image is ignored). */
export function maskBoundary(mask: Uint8Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      const edge =
        (y > 0 && !mask[i - w]) ||
        (y < h - 1 && !mask[i + w]) ||
        (x > 0 && !mask[i - 1]) ||
        (x < w - 1 && !mask[i + 1]);
      out[i] = edge ? 1 : 0;
    }
  }
  return out;
}

/** Pixels within Euclidean distance ≤ radius of a set pixel. */
function dilateDisk(points: Uint8Array, h: number, w: number, radius: number): Uint8Array {
  const out = points.slice();
  const r = Math.floor(radius);
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      if ((dy === 0 && dx === 0) || dy * dy + dx * dx > radius * radius) continue;
      for (let y = Math.max(0, -dy); y < Math.min(h, h - dy); y++) {
        for (let x = Math.max(0, -dx); x < Math.min(w, w - dx); x++) {
          if (points[y * w + x]) out[(y + dy) * w + x + dx] = 1;
        }
      }
    }
  }
  return out;
}

function countMatched(points: Uint8Array, cover: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < points.length; i++) n += points[i] & cover[i];
  return n;
}

function count(points: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < points.length; i++) n += points[i];
  return n;
}

/**
 * F = 2 P R / (P + R) of the two mask boundaries; P (R) is the share of predicted (target)
 * boundary pixels within `tolerance` pixels (Euclidean) of the other boundary. Masks binarised
 * at ≥ 0.5. Both boundaries empty → 1, exactly one empty → 0.
 * pred, target: (H, W) or (1, H, W), values in [0, 1]. Mirrors Python `boundary_f`.
 */
export function boundaryF(pred: Tensor, target: Tensor, tolerance = 2): number {
  if (typeof tolerance !== "number" || !Number.isFinite(tolerance) || tolerance < 0) {
    throw new LossInputError("tolerance", `expected a finite number >= 0, got ${String(tolerance)}`);
  }
  const [p, t] = binaryMaskPair(pred, target);
  const h = pred.shape[pred.shape.length - 2];
  const w = pred.shape[pred.shape.length - 1];
  const bp = maskBoundary(p, h, w);
  const bt = maskBoundary(t, h, w);
  const np = count(bp);
  const nt = count(bt);
  if (np === 0 && nt === 0) return 1;
  if (np === 0 || nt === 0) return 0;
  const precision = countMatched(bp, dilateDisk(bt, h, w, tolerance)) / np;
  const recall = countMatched(bt, dilateDisk(bp, h, w, tolerance)) / nt;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}
