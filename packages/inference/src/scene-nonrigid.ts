/**
 * The scene's step without its global similarity, when a camera views the roll-out (the
 * trainer's models/scene_nonrigid.py; shared vectors in scene-nonrigid.test.ts and
 * test_model_scene_nonrigid.py). A camera pose is a similarity (shift, rotation, zoom about the
 * frame's centre), and a camera profile supplies that motion as measured on real clips. The
 * model's field also has a global part: its mean guess of the camera's motion in its own training
 * world. Seen through a camera, that would be counted twice, so the camera owns the similarity
 * and the scene keeps the rest of its field (docs/generation.md, "The camera owns the
 * similarity"). With centred coordinates x = p_x - (W - 1) / 2, y = p_y - (H - 1) / 2 over the
 * full grid:
 *
 *   t_x = mean(u_x),  t_y = mean(u_y)
 *   a = sum(x u_x + y u_y) / sum(x^2 + y^2),   b = sum(x u_y - y u_x) / sum(x^2 + y^2)
 *   S(p) = (t_x + a x - b y,  t_y + b x + a y)
 *   v(p) = clamp(p + u(p) - S(p), 0, (W - 1, H - 1)) - p
 */
import { type Field, sourcesInFrame } from "./still-to-video-compose.js";

/** (t_x, t_y, a, b) of the module comment: the least-squares similarity of a step. */
export function similarityFit(u: Field): [number, number, number, number] {
  const { height: h, width: w, data } = u;
  const n = h * w;
  let sx = 0;
  let sy = 0;
  let sa = 0;
  let sb = 0;
  let norm = 0;
  for (let py = 0; py < h; py++) {
    const y = py - (h - 1) / 2;
    for (let px = 0; px < w; px++) {
      const x = px - (w - 1) / 2;
      const i = py * w + px;
      const ux = data[i];
      const uy = data[n + i];
      sx += ux;
      sy += uy;
      sa += x * ux + y * uy;
      sb += x * uy - y * ux;
      norm += x * x + y * y;
    }
  }
  const d = Math.max(norm, 1); // 0 only on a 1x1 frame, where sa = sb = 0
  return [sx / n, sy / n, sa / d, sb / d];
}

/** v of the module comment: the step less its similarity, sources in the frame. */
export function withoutSimilarity(u: Field): Field {
  const { height: h, width: w } = u;
  const n = h * w;
  const [tx, ty, a, b] = similarityFit(u);
  const data = new Float32Array(2 * n);
  for (let py = 0; py < h; py++) {
    const y = py - (h - 1) / 2;
    for (let px = 0; px < w; px++) {
      const x = px - (w - 1) / 2;
      const i = py * w + px;
      data[i] = u.data[i] - (tx + a * x - b * y);
      data[n + i] = u.data[n + i] - (ty + b * x + a * y);
    }
  }
  return sourcesInFrame({ data, height: h, width: w });
}
