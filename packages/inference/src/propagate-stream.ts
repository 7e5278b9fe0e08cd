/**
 * Fig. 6 for live video: frames arrive one by one, masks leave one by one. The mask of frame t+1
 * is G(I_t, M^_t).mask, so it is ready as soon as frame t has been seen; each yielded mask
 * belongs to the frame that was just consumed (frame 0 gets the initial mask). A next-frame
 * generator, G(I_t, M^_t, I_{t+1}), needs frame t+1 itself: its mask is computed when that
 * frame arrives, so the yielded sequence is the same, each mask one model run later.
 *
 * A split model (split-layout.ts) computes each frame's features once, on arrival, and holds
 * only the previous frame's: memory does not grow with the stream. One that can pipeline
 * (`Generator.canPipeline`, motion-pipeline.ts) matches on a second core: the stream asks the
 * source for the next frame as soon as the current one is taken, and the worker matches that
 * frame against this one as soon as it arrives, while this thread carries the mask. A source that
 * has its next frame ready (a file, a buffer) overlaps the two halves; a live one delays no mask:
 * each is still yielded as soon as its own frame is carried.
 */
import type { TensorData } from "./backend/onnx.js";
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
  /** Match ahead on a second core; default as propagateMasks' `pipeline`. Same masks either way. */
  pipeline?: boolean;
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
    const small = { ...options, downsample: 1 };
    for await (const { index, mask } of propagateStream(
      generator,
      smaller(),
      boxDownMask(initialMask, f),
      small,
    )) {
      yield { index, mask: index === 0 ? initialMask : bilinearUp(mask, f) };
    }
    return;
  }
  if (generator.pipelines(options.pipeline)) {
    yield* pipelinedStream(generator, frames, initialMask);
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
    size = checkFrame(generator, index, frame, size, initialMask);
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

/** propagateStream of a model that can pipeline: frame t + 1 is pulled, and matched against
 * frame t on the worker, while this thread carries the mask from t - 1 to t. */
async function* pipelinedStream(
  generator: Generator,
  frames: AsyncIterable<FloatImage> | Iterable<FloatImage>,
  initialMask: Mask,
): AsyncGenerator<StreamedMask, void, undefined> {
  const source =
    Symbol.asyncIterator in frames
      ? frames[Symbol.asyncIterator]()
      : (frames as Iterable<FloatImage>)[Symbol.iterator]();
  const session = generator.motionPipeline().open();
  /** Frames t - 1 .. t + 1 by index; the motion of (t - 1, t) by t. */
  const held = new Map<number, FloatImage>();
  const motions = new Map<number, Promise<TensorData[]>>();
  let size: { height: number; width: number } | undefined;
  const arrived = (index: number, frame: FloatImage): void => {
    size = checkFrame(generator, index, frame, size, initialMask);
    held.set(index, frame);
    if (index === 0) return;
    const motion = session.motion([[index - 1, index]], (i) => held.get(i) as FloatImage, [index]);
    motion.catch(() => {}); // awaited when frame `index` is carried; not unhandled meanwhile
    motions.set(index, motion);
  };
  /** Ask the source for frame `index`; its match is requested the moment it arrives. */
  const pull = (index: number): Promise<IteratorResult<FloatImage>> => {
    const next = Promise.resolve(source.next()).then((r) => {
      if (!r.done) arrived(index, r.value);
      return r;
    });
    next.catch(() => {}); // awaited in the loop below
    return next;
  };
  let mask = initialMask;
  try {
    let next = pull(0);
    for (let t = 0; ; t++) {
      const r = await next;
      if (r.done) return;
      next = pull(t + 1);
      if (t > 0) {
        const levels = await (motions.get(t) as Promise<TensorData[]>);
        motions.delete(t);
        [mask] = await generator.carryMasks(levels, [held.get(t) as FloatImage], [mask]);
        held.delete(t - 1);
      }
      yield { index: t, mask };
    }
  } finally {
    session.close();
    await source.return?.(); // a consumer that stopped early ends the source, as for-await does
  }
}

/** Frame `index` of a stream: the model's channels, frame 0's size (`size`, undefined for frame 0,
 * which also checks the initial mask against it). Returns the stream's size. */
function checkFrame(
  generator: Generator,
  index: number,
  frame: FloatImage,
  size: { height: number; width: number } | undefined,
  initialMask: Mask,
): { height: number; width: number } {
  checkImage(`frame ${index}`, frame, generator.channels);
  if (size === undefined) {
    checkMask("initialMask", initialMask, frame.height, frame.width);
    return { height: frame.height, width: frame.width };
  }
  if (frame.height !== size.height || frame.width !== size.width) {
    throw invalidArgument(
      `frame ${index} size`,
      `${frame.height}x${frame.width}`,
      `${size.height}x${size.width} like frame 0`,
    );
  }
  return size;
}
