/** Reading the PyTorch reference outputs written by `python -m stillmotion_trainer infer-reference`. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import type { FloatImage, Mask } from "../src/image-types.js";

interface TensorJson {
  shape: number[];
  data: number[];
}

export interface Reference {
  image: FloatImage;
  mask: Mask;
  /** The real next frame of the one-step reference (next-frame generators only). */
  nextFrame?: FloatImage;
  step: { image: FloatImage; mask: Mask };
  rollout: { image: FloatImage; mask: Mask }[];
  frames: FloatImage[];
  chain: Mask[];
}

const asImage = (t: TensorJson): FloatImage => ({
  data: Float32Array.from(t.data),
  channels: t.shape[1],
  height: t.shape[2],
  width: t.shape[3],
});
const asMask = (t: TensorJson): Mask => ({
  data: Float32Array.from(t.data),
  height: t.shape[2],
  width: t.shape[3],
});

export async function readReference(dir: string): Promise<Reference> {
  const raw = JSON.parse(await readFile(join(dir, "reference.json"), "utf8"));
  const frames = asImage(raw.frames);
  const n = raw.frames.shape[0];
  const size = frames.channels * frames.height * frames.width;
  return {
    image: asImage(raw.image),
    mask: asMask(raw.mask),
    nextFrame: raw.next_frame ? asImage(raw.next_frame) : undefined,
    step: { image: asImage(raw.step.next_image), mask: asMask(raw.step.next_mask) },
    rollout: raw.rollout.map((s: { image: TensorJson; mask: TensorJson }) => ({
      image: asImage(s.image),
      mask: asMask(s.mask),
    })),
    frames: Array.from({ length: n }, (_, i) => ({
      ...frames,
      data: frames.data.slice(i * size, (i + 1) * size),
    })),
    chain: raw.chain.map(asMask),
  };
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
