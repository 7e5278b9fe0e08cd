/** Frames + masks as report sample strips (uint8 planar tensors), a few frames per clip. */
import type { FloatImage, Mask } from "@stillmotion/inference";
import type { SampleStrip } from "../dashboard/page-data.js";
import { sampleStrip } from "../dashboard/report.js";

function toUint8(values: Float32Array, into: Uint8Array, offset: number): void {
  for (let i = 0; i < values.length; i++)
    into[offset + i] = Math.max(0, Math.min(255, Math.round(values[i] * 255)));
}

/** `count` evenly spaced frames of a clip as one strip. */
export function clipStrip(
  label: string,
  frames: readonly FloatImage[],
  masks: readonly Mask[],
  count = 8,
): SampleStrip {
  const n = Math.min(count, frames.length);
  const picks = Array.from({ length: n }, (_, i) =>
    Math.round((i * (frames.length - 1)) / Math.max(1, n - 1)),
  );
  const { channels: c, height: h, width: w } = frames[0];
  const images = new Uint8Array(n * c * h * w);
  const maskBytes = new Uint8Array(n * h * w);
  picks.forEach((t, i) => {
    toUint8(frames[t].data, images, i * c * h * w);
    toUint8(masks[t].data, maskBytes, i * h * w);
  });
  return sampleStrip(label, { imageShape: [n, c, h, w], maskShape: [n, 1, h, w], images, masks: maskBytes });
}
