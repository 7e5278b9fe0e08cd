/**
 * Fig. 6 as a pipeline: videos with one or a few key-frame masks -> a mask on every frame.
 * Writes per video the mask PNGs, an overlay mp4 (ffmpeg) and an animated preview.
 */
import { join } from "node:path";
import {
  type FloatImage,
  type Fusion,
  loadGenerator,
  type Mask,
  propagateMasks,
  writeAnimatedPreview,
  writeOverlayVideo,
  writePngSequence,
} from "@stillmotion/inference";
import { loadVideos } from "./inputs.js";

export interface PropagateVideosOptions {
  model: string;
  dataset: string;
  outDir: string;
  fusion?: Fusion;
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
  const videos = await loadVideos(options.dataset, generator.channels);
  const out: PropagatedVideo[] = [];
  for (const [i, video] of videos.entries()) {
    const started = performance.now();
    const result = await propagateMasks(generator, video.frames, video.keyframes, { fusion: options.fusion });
    const seconds = (performance.now() - started) / 1000;
    const dir = join(options.outDir, "videos", video.id);
    await writePngSequence(dir, { masks: result.masks, maskThreshold: 0.5 });
    let overlay: string | undefined;
    if (options.videos ?? true) {
      overlay = join(dir, "overlay.mp4");
      await writeOverlayVideo(overlay, video.frames, result.masks, { fps: Math.min(video.fps, 30) });
    }
    const preview = join(dir, "preview.webp");
    await writeAnimatedPreview(preview, video.frames, result.masks, { fps: 8 });
    out.push({
      id: video.id,
      dir,
      frames: video.frames,
      masks: result.masks,
      overlay,
      preview,
      framesPerSecond: video.frames.length / seconds,
    });
    options.onProgress?.(i + 1, videos.length, video.id);
  }
  await generator.dispose();
  return out;
}
