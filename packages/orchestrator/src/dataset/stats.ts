/**
 * `stillmotion dataset stats`: counts, sizes, masks per video, and the distribution of d (the
 * image similarity of METHOD.md steps 4-5, from @stillmotion/losses) between consecutive frames,
 * from key frames to every other frame, and between frames of different videos. The last two
 * feed `stillmotion calibrate`; mask distances φ are kept for pairs where both frames have masks.
 */
import path from "node:path";
import {
  PHI_NAMES,
  type PhiName,
  phi,
  SIMILARITY_NAMES,
  type SimilarityName,
  similarity,
  tensor,
} from "@stillmotion/losses";
import { DatasetError } from "./errors.js";
import { loadFrame, loadMask } from "./images.js";
import { keyIndices, loadManifest } from "./manifest.js";

/** How many other videos each video's middle frame is compared with (cross-video pairs). */
export const CROSS_VIDEO_PARTNERS = 3;
export const HISTOGRAM_BINS = 10;

export interface Distribution {
  count: number;
  mean: number;
  min: number;
  p05: number;
  p25: number;
  median: number;
  p75: number;
  p95: number;
  max: number;
  /** Counts in HISTOGRAM_BINS equal bins over [0, 1]. */
  histogram: number[];
}

/** One frame pair: d of the images, φ of their masks when both have one. */
export interface PairSample {
  kind: "consecutive" | "toKey" | "crossVideo";
  video: string;
  a: number;
  b: number;
  d: number;
  phi?: number;
}

export interface VideoStats {
  id: string;
  frames: number;
  width: number;
  height: number;
  fps: number;
  keyMasks: number;
  gtMasks: number;
  keyFrames: number[];
  consecutive: Distribution | null;
  toKey: Distribution | null;
}

export interface DatasetStats {
  manifest: string;
  name: string;
  modality: string;
  channels: number;
  d: SimilarityName;
  phi: PhiName;
  videos: number;
  frames: number;
  keyMasks: number;
  gtMasks: number;
  videosWithoutKey: string[];
  /** "WxH" -> number of videos. */
  sizes: Record<string, number>;
  consecutive: Distribution | null;
  toKey: Distribution | null;
  crossVideo: Distribution | null;
  perVideo: VideoStats[];
  pairs: PairSample[];
}

export interface StatsOptions {
  dataset: string;
  /** Default "ssim". */
  d?: SimilarityName;
  /** Mask distance for calibrate's margin; default "dice". */
  phi?: PhiName;
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function distribution(values: number[]): Distribution | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const histogram = new Array(HISTOGRAM_BINS).fill(0);
  for (const v of s) histogram[Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(v * HISTOGRAM_BINS)))]++;
  return {
    count: s.length,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    min: s[0],
    p05: quantile(s, 0.05),
    p25: quantile(s, 0.25),
    median: quantile(s, 0.5),
    p75: quantile(s, 0.75),
    p95: quantile(s, 0.95),
    max: s[s.length - 1],
    histogram,
  };
}

type Loaded = { data: Float32Array; channels: number; height: number; width: number };

export async function datasetStats(options: StatsOptions): Promise<DatasetStats> {
  const dName = options.d ?? "ssim";
  const phiName = options.phi ?? "dice";
  if (!SIMILARITY_NAMES.includes(dName)) {
    throw new DatasetError(
      "unsupported_input",
      "--d",
      `unknown d "${dName}"; allowed: ${SIMILARITY_NAMES.join(", ")}`,
    );
  }
  if (!PHI_NAMES.includes(phiName)) {
    throw new DatasetError(
      "unsupported_input",
      "--phi",
      `unknown phi "${phiName}"; allowed: ${PHI_NAMES.join(", ")}`,
    );
  }
  const manifest = await loadManifest(options.dataset);
  const { data, root } = manifest;
  const asTensor = (x: Loaded) => tensor(x.data, [1, x.channels, x.height, x.width]);
  const d = (a: Loaded, b: Loaded) => similarity(dName, asTensor(a), asTensor(b)).data[0];
  const maskDistance = (a: Float32Array, b: Float32Array, h: number, w: number) =>
    phi(phiName, tensor(a, [1, 1, h, w]), tensor(b, [1, 1, h, w])).data[0];

  const pairs: PairSample[] = [];
  const perVideo: VideoStats[] = [];
  const middles: { id: string; frame: Loaded; mask?: Float32Array }[] = [];
  for (const video of data.videos) {
    const frames: Loaded[] = [];
    const masks: (Float32Array | undefined)[] = [];
    for (const f of video.frames) {
      frames.push(await loadFrame(path.join(root, f.image), data.channels));
      const rel = f.gtMask ?? f.keyMask;
      masks.push(rel ? (await loadMask(path.join(root, rel))).data : undefined);
    }
    const sample = (kind: PairSample["kind"], a: number, b: number) => {
      const p: PairSample = { kind, video: video.id, a, b, d: d(frames[a], frames[b]) };
      const ma = masks[a];
      const mb = masks[b];
      if (ma && mb) p.phi = maskDistance(ma, mb, video.height, video.width);
      pairs.push(p);
      return p.d;
    };
    const consecutive: number[] = [];
    for (let t = 0; t + 1 < frames.length; t++) consecutive.push(sample("consecutive", t, t + 1));
    const keys = keyIndices(video);
    const toKey: number[] = [];
    for (const k of keys)
      for (let t = 0; t < frames.length; t++) if (t !== k) toKey.push(sample("toKey", k, t));
    const mid = Math.floor(frames.length / 2);
    middles.push({ id: video.id, frame: frames[mid], mask: masks[mid] });
    perVideo.push({
      id: video.id,
      frames: video.frames.length,
      width: video.width,
      height: video.height,
      fps: video.fps,
      keyMasks: keys.length,
      gtMasks: video.frames.filter((f) => f.gtMask).length,
      keyFrames: keys,
      consecutive: distribution(consecutive),
      toKey: distribution(toKey),
    });
  }
  // different videos show different scenes: the reference for "unlike" pairs (same size only)
  for (let i = 0; i < middles.length; i++) {
    let partners = 0;
    for (let j = i + 1; j < middles.length && partners < CROSS_VIDEO_PARTNERS; j++) {
      const a = middles[i];
      const b = middles[j];
      if (a.frame.width !== b.frame.width || a.frame.height !== b.frame.height) continue;
      partners++;
      const p: PairSample = {
        kind: "crossVideo",
        video: `${a.id}|${b.id}`,
        a: i,
        b: j,
        d: d(a.frame, b.frame),
      };
      if (a.mask && b.mask) p.phi = maskDistance(a.mask, b.mask, a.frame.height, a.frame.width);
      pairs.push(p);
    }
  }
  const of = (kind: PairSample["kind"]) => distribution(pairs.filter((p) => p.kind === kind).map((p) => p.d));
  const sizes: Record<string, number> = {};
  for (const v of data.videos) sizes[`${v.width}x${v.height}`] = (sizes[`${v.width}x${v.height}`] ?? 0) + 1;
  return {
    manifest: manifest.file,
    name: data.name,
    modality: data.modality,
    channels: data.channels,
    d: dName,
    phi: phiName,
    videos: data.videos.length,
    frames: perVideo.reduce((a, v) => a + v.frames, 0),
    keyMasks: perVideo.reduce((a, v) => a + v.keyMasks, 0),
    gtMasks: perVideo.reduce((a, v) => a + v.gtMasks, 0),
    videosWithoutKey: perVideo.filter((v) => v.keyMasks === 0).map((v) => v.id),
    sizes,
    consecutive: of("consecutive"),
    toKey: of("toKey"),
    crossVideo: of("crossVideo"),
    perVideo,
    pairs,
  };
}
