/**
 * Key-frame scoring and selection (METHOD.md "Key frames", claims 8-10). Mirrors Python
 * stillmotion_trainer/data/keyframes.py: same names, same formulas, same tie-breaking.
 *
 * Per frame, with Y the luminance (0.299 R + 0.587 G + 0.114 B) in [0, 1]:
 *   sharpness   = Var(lap(Y)) over interior pixels, lap = 4-neighbour Laplacian
 *   exposure    = max(0, 1 - 2 |mean(Y) - 0.5|) * max(0, 1 - 10 * frac(Y >= 0.98))
 *   centredness = 1 - |centroid(mask) - centre| / half-diagonal   (0 for an empty mask)
 *   score = 0.5 * sharpness / max_video(sharpness) + 0.25 * exposure + 0.25 * centredness
 * without masks the last term is dropped and the weights become 2/3 and 1/3.
 */

export const W_SHARP = 0.5;
export const W_EXPOSURE = 0.25;
export const W_CENTRE = 0.25;
export const OVEREXPOSED = 0.98;

/** Planar image: C x H x W values in 0..1. */
export interface PlanarImage {
  data: ArrayLike<number>;
  channels: number;
  height: number;
  width: number;
}

/** H x W mask values in 0..1. */
export interface PlaneMask {
  data: ArrayLike<number>;
  height: number;
  width: number;
}

export interface FrameScore {
  index: number;
  sharpness: number;
  exposure: number;
  /** null when no mask was given. */
  centredness: number | null;
  /** Fraction of pixels inside the lesion; null without a mask. */
  maskArea: number | null;
  score: number;
}

/** C x H x W -> H x W luminance (Rec. 601 weights for C = 3). Python: luminance. */
export function luminance(img: PlanarImage): Float64Array {
  const plane = img.height * img.width;
  const out = new Float64Array(plane);
  if (img.channels === 1) {
    for (let i = 0; i < plane; i++) out[i] = img.data[i];
    return out;
  }
  for (let i = 0; i < plane; i++) {
    out[i] = 0.299 * img.data[i] + 0.587 * img.data[plane + i] + 0.114 * img.data[2 * plane + i];
  }
  return out;
}

/** Variance of the 4-neighbour Laplacian over interior pixels; 0 under 3x3. Python: sharpness. */
export function sharpness(y: ArrayLike<number>, height: number, width: number): number {
  if (height < 3 || width < 3) return 0;
  let sum = 0;
  let sumSq = 0;
  const n = (height - 2) * (width - 2);
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) {
      const i = r * width + c;
      const lap = y[i - width] + y[i + width] + y[i - 1] + y[i + 1] - 4 * y[i];
      sum += lap;
      sumSq += lap * lap;
    }
  }
  const mean = sum / n;
  return Math.max(0, sumSq / n - mean * mean);
}

/** 1 at a mid-grey mean, 0 at black/white means or >= 10% blown-out pixels. Python: exposure. */
export function exposure(y: ArrayLike<number>): number {
  let sum = 0;
  let blown = 0;
  for (let i = 0; i < y.length; i++) {
    sum += y[i];
    if (y[i] >= OVEREXPOSED) blown++;
  }
  const balance = Math.max(0, 1 - 2 * Math.abs(sum / y.length - 0.5));
  return balance * Math.max(0, 1 - (10 * blown) / y.length);
}

/** 1 with the lesion centroid at the image centre, 0 at a corner or with no lesion. Python: centredness. */
export function centredness(mask: PlaneMask): number {
  const { height: h, width: w } = mask;
  let total = 0;
  let sy = 0;
  let sx = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const m = mask.data[r * w + c];
      total += m;
      sy += r * m;
      sx += c * m;
    }
  }
  if (total <= 0) return 0;
  const dist = Math.hypot(sy / total - (h - 1) / 2, sx / total - (w - 1) / 2);
  const halfDiag = Math.hypot((h - 1) / 2, (w - 1) / 2) || 1;
  return Math.max(0, 1 - dist / halfDiag);
}

/** Score one video's frames; masks for all frames or none. Python: score_frames. */
export function scoreFrames(images: PlanarImage[], masks?: PlaneMask[]): FrameScore[] {
  if (masks && masks.length !== images.length)
    throw new RangeError(`${masks.length} masks for ${images.length} images`);
  const raw = images.map((img, index) => {
    const y = luminance(img);
    const m = masks?.[index];
    let area: number | null = null;
    if (m) {
      let s = 0;
      for (let i = 0; i < m.data.length; i++) s += m.data[i];
      area = s / m.data.length;
    }
    return {
      index,
      sharpness: sharpness(y, img.height, img.width),
      exposure: exposure(y),
      centredness: m ? centredness(m) : null,
      maskArea: area,
      score: 0,
    };
  });
  const top = Math.max(0, ...raw.map((r) => r.sharpness));
  return raw.map((r) => {
    const s = top > 0 ? r.sharpness / top : 0;
    const score =
      r.centredness === null
        ? (W_SHARP * s + W_EXPOSURE * r.exposure) / (W_SHARP + W_EXPOSURE)
        : W_SHARP * s + W_EXPOSURE * r.exposure + W_CENTRE * r.centredness;
    return { ...r, score };
  });
}

/** floor(n / 2k), at least 1: a spacing greedy selection can always honour. Python: default_min_gap. */
export function defaultMinGap(numFrames: number, k: number): number {
  return Math.max(1, Math.floor(numFrames / (2 * Math.max(k, 1))));
}

/**
 * Pick k frames: best score first, each at least minGap frames from those taken; frames whose
 * mask is empty are skipped while any frame shows the lesion; ties go to the earlier frame.
 * Returns ascending indices. Python: select_keyframes.
 */
export function selectKeyframes(scores: FrameScore[], k: number, minGap?: number): number[] {
  const n = scores.length;
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new RangeError(`k must be between 1 and the number of frames (${n}), got ${k}`);
  const gap = minGap ?? defaultMinGap(n, k);
  if (!Number.isInteger(gap) || gap < 1) throw new RangeError(`min gap must be an integer >= 1, got ${gap}`);
  let candidates = scores;
  if (scores.some((s) => (s.maskArea ?? 0) > 0))
    candidates = scores.filter((s) => s.maskArea === null || s.maskArea > 0);
  if (candidates.length < k)
    throw new RangeError(`only ${candidates.length} frame(s) show the lesion; cannot pick ${k}`);
  const chosen: number[] = [];
  const order = [...candidates].sort((a, b) => b.score - a.score || a.index - b.index);
  for (const s of order) {
    if (chosen.every((c) => Math.abs(s.index - c) >= gap)) {
      chosen.push(s.index);
      if (chosen.length === k) return chosen.sort((a, b) => a - b);
    }
  }
  throw new RangeError(
    `cannot pick ${k} frames at least ${gap} apart from ${candidates.length} candidate(s); lower k or the gap`,
  );
}
