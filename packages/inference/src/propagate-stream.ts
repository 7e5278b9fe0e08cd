/**
 * Fig. 6 for live video: frames arrive one by one, masks leave one by one. The mask of frame t+1
 * is G(I_t, M^_t).mask, so it is ready as soon as frame t has been seen; each yielded mask
 * belongs to the frame that was just consumed (frame 0 gets the initial mask). A next-frame
 * generator, G(I_t, M^_t, I_{t+1}), needs frame t+1 itself: its mask is computed when that
 * frame arrives, so the yielded sequence is the same, each mask one model run later.
 *
 * A split model (split-layout.ts) computes each frame's features once, on arrival, and holds
 * only the previous frame's: memory does not grow with the stream.
 */
import { invalidArgument } from "./errors.js";
import { FeatureCache } from "./feature-cache.js";
import type { Generator } from "./generator.js";
import { checkImage, checkMask, type FloatImage, type Mask } from "./image-types.js";
import { bilinearUp, boxDown, boxDownMask, checkDownsample } from "./work-scale.js";

export interface StreamedMask {
  /** Index of the frame this mask belongs to (0-based, in arrival order). */
  index: number;
  mask: Mask;
}

export interface StreamOptions {
  /**
   * Run the model on frames this many times smaller per side and yield masks at the frames' size
   * (propagateMasks' `downsample`, work-scale.ts); frame 0 keeps the initial mask. Default 1.
   */
  downsample?: number;
}

/** Masks for a stream of frames, starting from the mask of the first frame. */
export async function* propagateStream(
  generator: Generator,
  frames: AsyncIterable<FloatImage> | Iterable<FloatImage>,
  initialMask: Mask,
  options: StreamOptions = {},
): AsyncGenerator<StreamedMask, void, undefined> {
  const f = options.downsample ?? 1;
  if (f !== 1) {
    checkDownsample(f, initialMask.height, initialMask.width);
    async function* smaller(): AsyncGenerator<FloatImage> {
      for await (const frame of frames) {
        checkDownsample(f, frame.height, frame.width);
        yield boxDown(frame, f);
      }
    }
    for await (const { index, mask } of propagateStream(generator, smaller(), boxDownMask(initialMask, f))) {
      yield { index, mask: index === 0 ? initialMask : bilinearUp(mask, f) };
    }
    return;
  }
  let mask = initialMask;
  let index = 0;
  let size: { height: number; width: number } | undefined;
  let previous: FloatImage | undefined;
  // split models: the features of the previous and the current frame only (recycled buffers)
  let current: FloatImage | undefined;
  const cache =
    generator.layout === "split" ? new FeatureCache(generator, () => current as FloatImage) : undefined;
  for await (const frame of frames) {
    checkImage(`frame ${index}`, frame, generator.channels);
    if (size === undefined) {
      size = { height: frame.height, width: frame.width };
      checkMask("initialMask", initialMask, frame.height, frame.width);
    } else if (frame.height !== size.height || frame.width !== size.width) {
      throw invalidArgument(
        `frame ${index} size`,
        `${frame.height}x${frame.width}`,
        `${size.height}x${size.width} like frame 0`,
      );
    }
    if (cache) {
      current = frame;
      await cache.ensure([index]);
      if (index > 0) {
        [mask] = await generator.stepMaskFromFeatures(
          [cache.get(index - 1)],
          [mask],
          [cache.get(index)],
          [frame],
        );
      }
      cache.retain((i) => i === index);
    } else if (generator.takesNextFrame && previous !== undefined) {
      mask = await generator.stepMask(previous, mask, frame); // M^_t = G(I_{t-1}, M^_{t-1}, I_t)
    }
    yield { index, mask };
    if (!generator.takesNextFrame) mask = await generator.stepMask(frame, mask); // G(I_t, M^_t)
    previous = frame;
    index++;
  }
}
