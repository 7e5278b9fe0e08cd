/**
 * The scene's step without its divergence, when a camera views the roll-out (the trainer's
 * models/scene_incompressible.py; shared vectors in scene-incompressible.test.ts and
 * test_model_scene_incompressible.py). A backward step I_{t+1}(p) = I_t(p + v(p)) changes the
 * area of what it carries by about 1 - div v, so a lesion's mask grows or shrinks with the
 * step's divergence. The camera supplies the zoom and owns the scene's similarity
 * (scene-nonrigid.ts); under it the scene keeps the divergence-free part of its step: it moves,
 * shears and turns the still's structures without swelling or shrinking them
 * (docs/generation.md, "The scene without its divergence").
 *
 * On the pixel grid with walls, forward differences G and the divergence D = -G^T:
 *
 *   (G phi)_x(i, j) = phi(i, j + 1) - phi(i, j)   for j < W - 1, else 0   (rows likewise, y)
 *   (D u)(i, j) = u_x(i, j)[j < W - 1] - u_x(i, j - 1)[j > 0]
 *               + u_y(i, j)[i < H - 1] - u_y(i - 1, j)[i > 0]
 *   L = D G     the Neumann Laplacian; the DCT-II diagonalises it, eigenvalues
 *               -4 sin^2(pi k / 2H) - 4 sin^2(pi l / 2W), (k, l) = (0, 0) the mean
 *   phi = L^+ D u  (phi's mean 0),   w = u - G phi,   so D w = 0
 *   v(p) = clamp(p + w(p), 0, (W - 1, H - 1)) - p
 *
 * w is the divergence-free field nearest to u: the discrete Helmholtz projection with no flow
 * through the frame's walls. The DCTs run fast (fast-dct.ts; the trainer multiplies by the dense
 * matrices, which BLAS does quickly): O(H W log(H W)) for any size.
 */
import { dctForward, dctInverse } from "./fast-dct.js";
import { type Field, sourcesInFrame } from "./still-to-video-compose.js";

/** D u of the module comment, row-major (H, W). */
export function divergence(u: { data: ArrayLike<number>; height: number; width: number }): Float64Array {
  const { height: h, width: w, data } = u;
  const n = h * w;
  const d = new Float64Array(n);
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const i = py * w + px;
      if (px < w - 1) {
        d[i] += data[i];
        d[i + 1] -= data[i];
      }
      if (py < h - 1) {
        d[i] += data[n + i];
        d[i + w] -= data[n + i];
      }
    }
  }
  return d;
}

/**
 * The 2-D orthonormal DCT of a row-major (H, W) array in place, along every row (length W) and
 * every column (length H): C_H a C_W^T forward, C_H^T a C_W inverse (fast-dct.ts).
 */
function dct2d(a: Float64Array, h: number, w: number, transform: (x: Float64Array) => Float64Array) {
  for (let py = 0; py < h; py++) a.set(transform(a.subarray(py * w, (py + 1) * w)), py * w);
  const column = new Float64Array(h);
  for (let px = 0; px < w; px++) {
    for (let py = 0; py < h; py++) column[py] = a[py * w + px];
    const done = transform(column);
    for (let py = 0; py < h; py++) a[py * w + px] = done[py];
  }
}

/** w of the module comment in double precision, (2, H, W) row-major: u less G phi. */
export function divergenceFreePart(u: Field): Float64Array {
  const { height: h, width: w } = u;
  const n = h * w;
  const phi = divergence(u);
  dct2d(phi, h, w, dctForward);
  for (let k = 0; k < h; k++) {
    const eigRow = -4 * Math.sin((Math.PI * k) / (2 * h)) ** 2;
    for (let l = 0; l < w; l++) {
      const eig = eigRow - 4 * Math.sin((Math.PI * l) / (2 * w)) ** 2;
      phi[k * w + l] = k === 0 && l === 0 ? 0 : phi[k * w + l] / eig; // L^+: the mean 0
    }
  }
  dct2d(phi, h, w, dctInverse);
  const out = Float64Array.from(u.data);
  for (let py = 0; py < h; py++) {
    for (let px = 0; px < w; px++) {
      const i = py * w + px;
      if (px < w - 1) out[i] -= phi[i + 1] - phi[i];
      if (py < h - 1) out[n + i] -= phi[i + w] - phi[i];
    }
  }
  return out;
}

/** v of the module comment: the step less its gradient part, sources in the frame. */
export function divergenceFree(u: Field): Field {
  const { height, width } = u;
  return sourcesInFrame({ data: Float32Array.from(divergenceFreePart(u)), height, width });
}
