/** Writer: a folder of numbered PNG frames and masks (frame_00000.png, mask_00000.png, ...). */
import { join } from "node:path";

import { invalidArgument } from "../errors.js";
import { writeFileAtomic } from "../fs-atomic.js";
import { encodePng } from "../image-io.js";
import { type FloatImage, imageToPixels, type Mask, maskToPixels } from "../image-types.js";

export interface PngSequenceOptions {
  frames?: readonly FloatImage[];
  masks?: readonly Mask[];
  /** Binarise masks at this value (0/255); default: soft masks as 0..255. */
  maskThreshold?: number;
  /** Digits in the file number; default 5. */
  digits?: number;
}

export interface PngSequenceResult {
  frames: string[];
  masks: string[];
}

/** Write frames and/or masks into `dir` (created); each file is written atomically. */
export async function writePngSequence(dir: string, options: PngSequenceOptions): Promise<PngSequenceResult> {
  const { frames = [], masks = [], maskThreshold } = options;
  const digits = options.digits ?? 5;
  if (frames.length === 0 && masks.length === 0)
    throw invalidArgument("frames/masks", 0, "at least one of them");
  const name = (kind: string, i: number) => join(dir, `${kind}_${String(i).padStart(digits, "0")}.png`);
  const result: PngSequenceResult = { frames: [], masks: [] };
  for (let i = 0; i < frames.length; i++) {
    const path = name("frame", i);
    await writeFileAtomic(path, await encodePng(imageToPixels(frames[i])));
    result.frames.push(path);
  }
  for (let i = 0; i < masks.length; i++) {
    const path = name("mask", i);
    await writeFileAtomic(path, await encodePng(maskToPixels(masks[i], maskThreshold)));
    result.masks.push(path);
  }
  return result;
}
