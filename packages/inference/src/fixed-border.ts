/**
 * The still's fixed border under a camera: the scope's dark surround (and the overlays on it)
 * stays where it is while the view behind it moves, as with a real scope. Mirrors Python
 * python-trainer/stillmotion_trainer/models/fixed_border.py exactly (shared vectors in both
 * test suites; the reasons and numbers are there and in docs/generation.md):
 *
 *     dark(p)  = max_c I(c, p) < threshold              (default 0.05, 0-1 scale)
 *     B0       = dark pixels 4-connected to the frame's edge
 *     V0       = the largest 4-connected component of not B0 (ties: first in raster order)
 *     B        = not V0 grown by r = max(1, floor(min(H, W) / 64 + 1/2)) px (a (2r+1)^2 square)
 *     fill(I)(p) = I(p) on V; on B, I(2b - p) if that pixel is in V, else I(b), b the view-edge
 *                  pixel (a view pixel with a 4-neighbour in B) nearest p, ties first in raster order
 *
 * The camera and the model move fill(I); frame t shows the still on B and the moved scene on V.
 */
import type { FloatImage, Mask } from "./image-types.js";

export const DEFAULT_BORDER_THRESHOLD = 0.05;

/** 4-connected components of `inside` (H * W), labelled 1.. in raster order of their first pixel. */
function components(inside: Uint8Array, h: number, w: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(h * w);
  const queue = new Int32Array(h * w);
  let count = 0;
  for (let start = 0; start < h * w; start++) {
    if (!inside[start] || labels[start]) continue;
    count++;
    labels[start] = count;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const i = queue[head++];
      const y = Math.floor(i / w);
      const x = i - y * w;
      const near: [number, boolean][] = [
        [i - w, y > 0],
        [i + w, y < h - 1],
        [i - 1, x > 0],
        [i + 1, x < w - 1],
      ];
      for (const [j, ok] of near) {
        if (ok && inside[j] && !labels[j]) {
          labels[j] = count;
          queue[tail++] = j;
        }
      }
    }
  }
  return { labels, count };
}

/** B of the formulas: 1 on the fixed border, 0 on the view; all 0 without a dark surround. */
export function findBorder(still: FloatImage, threshold = DEFAULT_BORDER_THRESHOLD): Uint8Array {
  const { channels: c, height: h, width: w } = still;
  const n = h * w;
  const border = new Uint8Array(n);
  if (!(threshold > 0)) return border;
  const dark = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let ch = 0; ch < c; ch++) max = Math.max(max, still.data[ch * n + i]);
    dark[i] = max < threshold ? 1 : 0;
  }
  const { labels } = components(dark, h, w);
  const edge = new Set<number>();
  for (let x = 0; x < w; x++) edge.add(labels[x]).add(labels[(h - 1) * w + x]);
  for (let y = 0; y < h; y++) edge.add(labels[y * w]).add(labels[y * w + w - 1]);
  edge.delete(0);
  if (edge.size === 0) return border;
  const open = new Uint8Array(n);
  for (let i = 0; i < n; i++) open[i] = edge.has(labels[i]) ? 0 : 1;
  const views = components(open, h, w);
  if (views.count === 0) return border.fill(1);
  const sizes = new Int32Array(views.count + 1);
  for (let i = 0; i < n; i++) sizes[views.labels[i]]++;
  let keep = 1;
  for (let k = 2; k <= views.count; k++) if (sizes[k] > sizes[keep]) keep = k;
  const r = Math.max(1, Math.floor((Math.min(h, w) + 32) / 64));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (views.labels[y * w + x] === keep) continue;
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) border[yy * w + xx] = 1;
      }
    }
  }
  return border;
}

/** fill(I) of the formulas: the still with its border replaced by the view reflected into it. */
export function fillBorder(still: FloatImage, border: Uint8Array): FloatImage {
  const { channels: c, height: h, width: w } = still;
  const n = h * w;
  const data = still.data.slice();
  const ex: number[] = [];
  const ey: number[] = [];
  const isBorder = (y: number, x: number) => y >= 0 && y < h && x >= 0 && x < w && border[y * w + x] === 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (border[y * w + x]) continue;
      if (isBorder(y - 1, x) || isBorder(y + 1, x) || isBorder(y, x - 1) || isBorder(y, x + 1)) {
        ey.push(y);
        ex.push(x);
      }
    }
  }
  if (ex.length === 0) return { ...still, data };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!border[i]) continue;
      let best = 0;
      let bestD = Infinity;
      for (let k = 0; k < ex.length; k++) {
        const d = (y - ey[k]) ** 2 + (x - ex[k]) ** 2;
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      }
      let sy = 2 * ey[best] - y;
      let sx = 2 * ex[best] - x;
      if (sy < 0 || sy >= h || sx < 0 || sx >= w || border[sy * w + sx]) {
        sy = ey[best];
        sx = ex[best];
      }
      for (let ch = 0; ch < c; ch++) data[ch * n + i] = still.data[ch * n + sy * w + sx];
    }
  }
  return { ...still, data };
}

/** Frame and mask through the fixed border: the still on B, `image` on V; the mask 0 on B. */
export function throughBorder(
  image: FloatImage,
  mask: Mask,
  still: FloatImage,
  border: Uint8Array,
): { image: FloatImage; mask: Mask } {
  const n = image.height * image.width;
  const data = image.data.slice();
  const m = mask.data.slice();
  for (let i = 0; i < n; i++) {
    if (!border[i]) continue;
    m[i] = 0;
    for (let ch = 0; ch < image.channels; ch++) data[ch * n + i] = still.data[ch * n + i];
  }
  return { image: { ...image, data }, mask: { ...mask, data: m } };
}
