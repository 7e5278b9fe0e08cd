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
 * through the frame's walls.
 */
import { type Field, sourcesInFrame } from "./still-to-video-compose.js";

/** The orthonormal DCT-II matrix, row-major (n, n): C[k, i] = s_k cos(pi k (2i + 1) / 2n). */
export function dctBasis(n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt((k === 0 ? 1 : 2) / n);
    for (let i = 0; i < n; i++) c[k * n + i] = s * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
  }
  return c;
}

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

/** A (r, m) times B (m, c), both row-major. */
function multiply(a: Float64Array, b: Float64Array, r: number, m: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      for (let j = 0; j < c; j++) out[i * c + j] += aik * b[k * c + j];
    }
  }
  return out;
}

/** The transpose of a row-major (n, n) matrix. */
function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

/** w of the module comment in double precision, (2, H, W) row-major: u less G phi. */
export function divergenceFreePart(u: Field): Float64Array {
  const { height: h, width: w } = u;
  const n = h * w;
  const rows = dctBasis(h);
  const cols = dctBasis(w);
  const coeffs = multiply(multiply(rows, divergence(u), h, h, w), transpose(cols, w), h, w, w);
  for (let k = 0; k < h; k++) {
    const eigRow = -4 * Math.sin((Math.PI * k) / (2 * h)) ** 2;
    for (let l = 0; l < w; l++) {
      const eig = eigRow - 4 * Math.sin((Math.PI * l) / (2 * w)) ** 2;
      coeffs[k * w + l] = k === 0 && l === 0 ? 0 : coeffs[k * w + l] / eig; // L^+: the mean 0
    }
  }
  const phi = multiply(multiply(transpose(rows, h), coeffs, h, h, w), cols, h, w, w);
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
