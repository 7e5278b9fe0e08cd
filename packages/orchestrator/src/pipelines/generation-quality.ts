/**
 * Per-clip still -> video quality (issue 17), written beside the generated clips: does the clip
 * keep the still's identity? Mirrors Python `stillmotion_trainer/evaluation/generation_quality.py`
 * (same names, same formulas; that module also carries the Farneback and model-field Dice, which
 * need the trainer):
 * - colour drift per channel c: |mean_c(I_T) - mean_c(I_0)| and |std_c(I_T) - std_c(I_0)|;
 * - sharpness ratio: var(lap(g(I_T))) / var(lap(g(I_0))), g the channel mean, lap the
 *   4-neighbour Laplacian over interior pixels;
 * - consecutive SSIM: SSIM(I_t, I_{t+1}) for every t (1.0 everywhere = a frozen still);
 * - area ratio: |M_T >= 0.5| / |M_0 >= 0.5| (null when the still has no lesion).
 */
import type { FloatImage, Mask } from "@stillmotion/inference";
import { ssim } from "@stillmotion/losses";

export interface ColourDrift {
  mean: number[];
  std: number[];
}

export interface ClipQuality {
  colourDrift: ColourDrift;
  /** The largest of colourDrift's mean and std changes (issue 17's target: <= 0.03). */
  colourDriftMax: number;
  /** Target: >= 0.7; null for a flat still. */
  sharpnessRatio: number | null;
  consecutiveSsim: number[];
  /** Target: in [0.7, 1.3]; null when the still's mask is empty. */
  areaRatio: number | null;
}

function channelStats(image: FloatImage, c: number): { mean: number; std: number } {
  const n = image.height * image.width;
  const plane = image.data.subarray(c * n, (c + 1) * n);
  let sum = 0;
  for (const v of plane) sum += v;
  const mean = sum / n;
  let sq = 0;
  for (const v of plane) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / n) };
}

/** Per-channel |Δmean| and |Δstd| (population std) of `frame` against `still`. */
export function colourDrift(still: FloatImage, frame: FloatImage): ColourDrift {
  const out: ColourDrift = { mean: [], std: [] };
  for (let c = 0; c < still.channels; c++) {
    const a = channelStats(still, c);
    const b = channelStats(frame, c);
    out.mean.push(Math.abs(b.mean - a.mean));
    out.std.push(Math.abs(b.std - a.std));
  }
  return out;
}

/** Population variance of the 4-neighbour Laplacian of the channel mean, interior pixels. */
export function laplacianVariance(image: FloatImage): number {
  const { channels: c, height: h, width: w } = image;
  const g = new Float64Array(h * w);
  for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) g[i] += image.data[k * h * w + i] / c;
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const lap = g[i - w] + g[i + w] + g[i - 1] + g[i + 1] - 4 * g[i];
      sum += lap;
      sq += lap * lap;
      n++;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return Math.max(0, sq / n - mean * mean);
}

/** laplacianVariance(frame) / laplacianVariance(still); null for a flat still. */
export function sharpnessRatio(still: FloatImage, frame: FloatImage): number | null {
  const base = laplacianVariance(still);
  return base > 0 ? laplacianVariance(frame) / base : null;
}

/** SSIM(I_t, I_{t+1}) for t = 0..T-2 (@stillmotion/losses ssim, the trainer's formula). */
export function consecutiveSsim(frames: readonly FloatImage[]): number[] {
  const tensor = (f: FloatImage) => ({ data: f.data, shape: [f.channels, f.height, f.width] });
  return frames.slice(1).map((f, t) => ssim(tensor(frames[t]), tensor(f)));
}

function lesionPixels(mask: Mask): number {
  let n = 0;
  for (const v of mask.data) if (v >= 0.5) n++;
  return n;
}

/** |mask >= 0.5| / |still mask >= 0.5|; null when the still's mask is empty. */
export function areaRatio(stillMask: Mask, mask: Mask): number | null {
  const base = lesionPixels(stillMask);
  return base > 0 ? lesionPixels(mask) / base : null;
}

/** The numbers above for a clip whose index 0 is the still, scored at its last frame. */
export function clipQuality(frames: readonly FloatImage[], masks: readonly Mask[]): ClipQuality {
  const still = frames[0];
  const last = frames[frames.length - 1];
  const drift = colourDrift(still, last);
  return {
    colourDrift: drift,
    colourDriftMax: Math.max(...drift.mean, ...drift.std),
    sharpnessRatio: sharpnessRatio(still, last),
    consecutiveSsim: consecutiveSsim(frames),
    areaRatio: areaRatio(masks[0], masks[masks.length - 1]),
  };
}
