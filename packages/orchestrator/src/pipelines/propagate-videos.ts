/**
 * Fig. 6 as a pipeline: videos with one or a few key-frame masks -> a mask on every frame.
 * Writes per video the mask PNGs, an overlay mp4 (ffmpeg) and an animated preview. The output
 * folder appears whole or not at all (staged-output.ts).
 */
import { join } from "node:path";
import {
  type FloatImage,
  type Fusion,
  type Generator,
  loadGenerator,
  type Mask,
  propagateMasks,
  type Reference,
  writeAnimatedPreview,
  writeOverlayVideo,
  writePngSequence,
} from "@stillmotion/inference";
import { loadVideos, type VideoInput } from "./inputs.js";
import { StagedOutput } from "./staged-output.js";

export interface PropagateVideosOptions {
  model: string;
  dataset: string;
  outDir: string;
  /** Replace a non-empty `outDir` (default: refuse it, so old and new masks never mix). */
  overwrite?: boolean;
  fusion?: Fusion;
  /** What each step carries the mask from (propagateMasks' `reference`); default "previous". */
  reference?: Reference;
  /** Run the model on frames this many times smaller per side (propagateMasks' `downsample`). */
  downsample?: number;
  /** Also write overlay mp4s (needs ffmpeg); default true. */
  videos?: boolean;
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface PropagatedVideo {
  id: string;
  dir: string;
  frames: FloatImage[];
  masks: Mask[];
  overlay?: string;
  preview: string;
  framesPerSecond: number;
}

export async function propagateVideos(options: PropagateVideosOptions): Promise<PropagatedVideo[]> {
  const generator = await loadGenerator(options.model);
  try {
    const videos = await loadVideos(options.dataset, generator.channels);
    return await StagedOutput.write(options.outDir, { overwrite: options.overwrite }, (staged) =>
      writeVideos(options, generator, videos, staged),
    );
  } finally {
    await generator.dispose();
  }
}

/** Every video's masks, overlay and preview into the staging folder; result paths are final. */
async function writeVideos(
  options: PropagateVideosOptions,
  generator: Generator,
  videos: VideoInput[],
  staged: StagedOutput,
): Promise<PropagatedVideo[]> {
  const out: PropagatedVideo[] = [];
  for (const [i, video] of videos.entries()) {
    const started = performance.now();
    const result = await propagateMasks(generator, video.frames, video.keyframes, {
      fusion: options.fusion,
      reference: options.reference,
      downsample: options.downsample,
    });
    const seconds = (performance.now() - started) / 1000;
    const dir = join("videos", video.id);
    await writePngSequence(join(staged.stage, dir), { masks: result.masks, maskThreshold: 0.5 });
    let overlay: string | undefined;
    if (options.videos ?? true) {
      overlay = join(dir, "overlay.mp4");
      await writeOverlayVideo(join(staged.stage, overlay), video.frames, result.masks, {
        fps: Math.min(video.fps, 30),
      });
    }
    const preview = join(dir, "preview.webp");
    await writeAnimatedPreview(join(staged.stage, preview), video.frames, result.masks, { fps: 8 });
    out.push({
      id: video.id,
      dir: join(staged.out, dir),
      frames: video.frames,
      masks: result.masks,
      overlay: overlay && join(staged.out, overlay),
      preview: join(staged.out, preview),
      framesPerSecond: video.frames.length / seconds,
    });
    options.onProgress?.(i + 1, videos.length, video.id);
  }
  return out;
}
