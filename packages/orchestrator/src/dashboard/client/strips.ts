/// <reference lib="dom" />
/** Preview strips: predicted frames, masks and the overlay drawn pixel by pixel on a canvas. */
import type { SampleStrip } from "../page-data.js";
import type { StoredPreview } from "../preview-store.js";

/** The mask overlay colour (also --overlay in the page CSS): cyan reads well on red tissue and grey. */
const OVERLAY: [number, number, number] = [0, 229, 255];
const OVERLAY_ALPHA = 0.55;

const decoded = new WeakMap<object, { images: Uint8Array; masks: Uint8Array }>();

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Draws N frames side by side in three rows: the predicted frames, the predicted masks (grey),
 * and the frames with the mask blended in the overlay colour (alpha = 0.55 * mask) and its 0.5
 * contour drawn solid. Pixels are upscaled by an integer factor (nearest neighbour).
 */
export function drawStrip(canvas: HTMLCanvasElement, strip: SampleStrip | StoredPreview): void {
  let bytes = decoded.get(strip);
  if (!bytes) {
    bytes = { images: base64Bytes(strip.images), masks: base64Bytes(strip.masks) };
    decoded.set(strip, bytes);
  }
  const [n, c, h, w] = strip.imageShape; // [N, C, H, W]
  const scale = Math.max(1, Math.min(8, Math.floor(128 / Math.max(h, w))));
  const gap = 6;
  const tw = w * scale;
  const th = h * scale;
  canvas.width = n * tw + (n - 1) * gap;
  canvas.height = 3 * th + 2 * gap;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const out = ctx.createImageData(canvas.width, canvas.height);
  const { images, masks } = bytes;
  const maskAt = (k: number, sy: number, sx: number) =>
    sy < 0 || sx < 0 || sy >= th || sx >= tw
      ? 0
      : masks[k * h * w + Math.floor(sy / scale) * w + Math.floor(sx / scale)];
  for (let k = 0; k < n; k++) {
    for (let sy = 0; sy < th; sy++) {
      for (let sx = 0; sx < tw; sx++) {
        const y = Math.floor(sy / scale);
        const x = Math.floor(sx / scale);
        const base = k * c * h * w + y * w + x;
        const r = images[base];
        const g = c === 3 ? images[base + h * w] : r;
        const b = c === 3 ? images[base + 2 * h * w] : r;
        const m = maskAt(k, sy, sx);
        const inside = m >= 128;
        const edge =
          inside &&
          (maskAt(k, sy - 1, sx) < 128 ||
            maskAt(k, sy + 1, sx) < 128 ||
            maskAt(k, sy, sx - 1) < 128 ||
            maskAt(k, sy, sx + 1) < 128);
        const a = edge ? 1 : (OVERLAY_ALPHA * m) / 255;
        const col = k * (tw + gap) + sx;
        const row = (i: number) => ((sy + i * (th + gap)) * canvas.width + col) * 4;
        out.data.set([r, g, b, 255], row(0));
        out.data.set([m, m, m, 255], row(1));
        out.data.set(
          [r + (OVERLAY[0] - r) * a, g + (OVERLAY[1] - g) * a, b + (OVERLAY[2] - b) * a, 255].map(Math.round),
          row(2),
        );
      }
    }
  }
  ctx.putImageData(out, 0, 0);
}
