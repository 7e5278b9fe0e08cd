/**
 * `stillmotion keyframes`: score every frame of every video (keyframe-scores.ts), pick k per
 * video with temporal spacing, and optionally write the choice: `keyframes.json` always, and
 * with `assign` the manifest's key masks (from the evaluation masks, or from a lesion detector).
 * With a protocol (key-protocols.ts) the frames are picked by position instead of by score.
 */
import path from "node:path";
import { LesionDetector, type SessionOpener } from "./detector.js";
import { DatasetError } from "./errors.js";
import { loadFrame, loadMask, writePng } from "./images.js";
import { formatKeyProtocol, type KeyProtocol, parseKeyProtocol, protocolKeys } from "./key-protocols.js";
import {
  defaultMinGap,
  type FrameScore,
  type PlaneMask,
  scoreFrames,
  selectKeyframes,
  W_CENTRE,
  W_EXPOSURE,
  W_SHARP,
} from "./keyframe-scores.js";
import { type FrameEntry, loadManifest, type Manifest } from "./manifest.js";
import { atomicWrite, writeManifest } from "./write.js";

export const KEYFRAMES_FILE = "keyframes.json";
export const ASSIGN_MODES = ["none", "gt", "detector"] as const;
export type AssignMode = (typeof ASSIGN_MODES)[number];

export interface KeyframesOptions {
  dataset: string;
  /** Key frames per video (at most the video's length); default 1. */
  k?: number;
  /** Minimum distance between chosen frames; default floor(n / 2k). */
  minGap?: number;
  /** ONNX lesion detector (docs/datasets.md "Detector contract"); its masks score lesion position. */
  detector?: string;
  /** Write keyframes.json (and, with assign, the manifest). */
  write?: boolean;
  /** Replace each video's key masks by the chosen frames' gt or detector masks; default none. */
  assign?: AssignMode;
  /**
   * "first" or "every:N": pick frames by position among those with a gtMask instead of by
   * score (the real-data benchmark's protocols); excludes k, minGap and detector.
   */
  protocol?: string;
  /** How to open ONNX sessions (tests inject one); default @stillmotion/inference. */
  opener?: SessionOpener;
}

export interface VideoChoice {
  id: string;
  frames: number;
  chosen: number[];
  /** Where the lesion position came from: evaluation masks, the detector, or nowhere. */
  maskSource: "gt" | "detector" | "none";
  scores: FrameScore[];
}

export interface KeyframesResult {
  manifest: string;
  /** Frames asked per video; null when a protocol chose them. */
  k: number | null;
  /** The protocol that chose the frames, as "first" or "every:N". */
  protocol?: string;
  videos: VideoChoice[];
  selectionFile?: string;
  manifestUpdated: boolean;
}

export async function keyframes(options: KeyframesOptions): Promise<KeyframesResult> {
  const k = options.k ?? 1;
  if (!Number.isInteger(k) || k < 1)
    throw new DatasetError("unsupported_input", "--k", `k must be an integer >= 1, got ${k}`);
  const assign = options.assign ?? "none";
  if (!ASSIGN_MODES.includes(assign)) {
    throw new DatasetError(
      "unsupported_input",
      "--assign",
      `unknown mode "${assign}"; allowed: ${ASSIGN_MODES.join(", ")}`,
    );
  }
  if (assign !== "none" && !options.write)
    throw new DatasetError("unsupported_input", "--assign", "needs --write");
  if (options.protocol !== undefined) return protocolKeyframes(options, parseKeyProtocol(options.protocol));
  if (assign === "detector" && !options.detector)
    throw new DatasetError("unsupported_input", "--assign", "detector needs --detector");
  const manifest = await loadManifest(options.dataset);
  const { data, root } = manifest;
  const detector = options.detector
    ? await LesionDetector.open(options.detector, data.channels, options.opener)
    : undefined;
  const detected = new Map<string, Float32Array[]>();
  const videos: VideoChoice[] = [];
  try {
    for (const video of data.videos) {
      const images = [];
      for (const f of video.frames) images.push(await loadFrame(path.join(root, f.image), data.channels));
      let masks: PlaneMask[] | undefined;
      let maskSource: VideoChoice["maskSource"] = "none";
      if (detector) {
        const found = [];
        for (const img of images) found.push(await detector.detect(img));
        detected.set(video.id, found);
        masks = found.map((m) => ({ data: m, height: video.height, width: video.width }));
        maskSource = "detector";
      } else if (video.frames.every((f) => f.gtMask)) {
        masks = [];
        for (const f of video.frames) masks.push(await loadMask(path.join(root, f.gtMask as string)));
        maskSource = "gt";
      }
      const scores = scoreFrames(images, masks);
      const kVideo = Math.min(k, video.frames.length);
      let chosen: number[];
      try {
        chosen = selectKeyframes(scores, kVideo, options.minGap);
      } catch (cause) {
        throw new DatasetError(
          "no_key_frame",
          manifest.file,
          `video '${video.id}': ${(cause as Error).message}`,
          { cause },
        );
      }
      videos.push({ id: video.id, frames: video.frames.length, chosen, maskSource, scores });
    }
  } finally {
    await detector?.close();
  }
  const result: KeyframesResult = { manifest: manifest.file, k, videos, manifestUpdated: false };
  return finish(manifest, result, options, detected);
}

/** Write keyframes.json and, with assign, the key masks. */
async function finish(
  manifest: Manifest,
  result: KeyframesResult,
  options: KeyframesOptions,
  detected: Map<string, Float32Array[]>,
): Promise<KeyframesResult> {
  const assign = options.assign ?? "none";
  if (options.write) {
    result.selectionFile = await writeSelection(manifest, result, options);
    if (assign !== "none") {
      await assignKeyMasks(manifest, result.videos, assign, detected);
      result.manifestUpdated = true;
    }
  }
  return result;
}

/**
 * Keys by protocol: no frame is decoded, only the manifest's gtMask entries are read. Every
 * video needs an evaluation mask somewhere, since the keys are evaluation masks.
 */
async function protocolKeyframes(options: KeyframesOptions, protocol: KeyProtocol): Promise<KeyframesResult> {
  for (const [flag, given] of [
    ["--k", options.k !== undefined],
    ["--min-gap", options.minGap !== undefined],
    ["--detector", options.detector !== undefined],
  ] as const) {
    if (given) {
      throw new DatasetError(
        "unsupported_input",
        flag,
        "cannot be combined with --protocol (the protocol picks the frames by position)",
      );
    }
  }
  if (options.assign === "detector")
    throw new DatasetError(
      "unsupported_input",
      "--assign",
      "detector cannot be combined with --protocol; use gt",
    );
  const manifest = await loadManifest(options.dataset);
  const videos: VideoChoice[] = manifest.data.videos.map((video) => {
    const chosen = protocolKeys(
      video.frames.map((f) => f.gtMask !== undefined),
      protocol,
    );
    if (chosen.length === 0) {
      throw new DatasetError(
        "no_key_frame",
        manifest.file,
        `video '${video.id}': no frame has a gtMask, so protocol ${formatKeyProtocol(protocol)} has no key to pick`,
      );
    }
    return { id: video.id, frames: video.frames.length, chosen, maskSource: "gt", scores: [] };
  });
  const result: KeyframesResult = {
    manifest: manifest.file,
    k: null,
    protocol: formatKeyProtocol(protocol),
    videos,
    manifestUpdated: false,
  };
  return finish(manifest, result, options, new Map());
}

async function writeSelection(
  manifest: Manifest,
  result: KeyframesResult,
  options: KeyframesOptions,
): Promise<string> {
  const file = path.join(manifest.root, KEYFRAMES_FILE);
  const doc = {
    format: "stillmotion-keyframes",
    version: 1,
    k: result.k,
    protocol: result.protocol ?? null,
    weights: { sharpness: W_SHARP, exposure: W_EXPOSURE, centredness: W_CENTRE },
    detector: options.detector ? path.resolve(options.detector) : null,
    videos: result.videos.map((v) => ({
      id: v.id,
      chosen: v.chosen,
      minGap:
        result.k === null ? null : (options.minGap ?? defaultMinGap(v.frames, Math.min(result.k, v.frames))),
      maskSource: v.maskSource,
      scores: v.scores.map((s) => ({
        index: s.index,
        score: round(s.score),
        sharpness: round(s.sharpness),
        exposure: round(s.exposure),
        centredness: s.centredness === null ? null : round(s.centredness),
      })),
    })),
  };
  await atomicWrite(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

/** Make the chosen frames the videos' only key frames, with gt or detector masks. */
async function assignKeyMasks(
  manifest: Manifest,
  choices: VideoChoice[],
  assign: "gt" | "detector",
  detected: Map<string, Float32Array[]>,
): Promise<void> {
  const data = structuredClone(manifest.data);
  for (const [vi, video] of data.videos.entries()) {
    const chosen = new Set(choices[vi].chosen);
    for (const [fi, frame] of video.frames.entries()) {
      const entry: FrameEntry = frame;
      delete entry.keyMask;
      delete entry.keySource;
      if (!chosen.has(fi)) continue;
      if (assign === "gt") {
        if (!frame.gtMask) {
          throw new DatasetError(
            "missing_file",
            manifest.file,
            `videos[${vi}].frames[${fi}] has no gtMask to assign`,
          );
        }
        Object.assign(entry, { keyMask: frame.gtMask, keySource: "clinician" });
      } else {
        const mask = (detected.get(video.id) as Float32Array[])[fi];
        const rel = `masks/${video.id}/${String(fi).padStart(6, "0")}.detector.png`;
        const bytes = Uint8Array.from(mask, (v) => (v > 0 ? 255 : 0));
        await writePng(path.join(manifest.root, rel), {
          data: bytes,
          width: video.width,
          height: video.height,
          channels: 1,
        });
        Object.assign(entry, { keyMask: rel, keySource: "detector" });
      }
    }
  }
  await writeManifest(manifest.root, data);
}
