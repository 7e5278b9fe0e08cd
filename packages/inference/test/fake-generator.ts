/**
 * A Generator over a fake session whose G is known in closed form, so propagation and roll-out
 * logic can be checked exactly, independent of any network:
 *   next_mask = 0.5 * mask + 0.5 * image[channel 0],  next_image = 1 - image;
 * with `nextFrame` it is G(I_t, M_t, I_{t+1}):
 *   next_mask = 0.5 * mask + 0.25 * image[channel 0] + 0.25 * next_frame[channel 0].
 */
import type { OnnxSession, TensorData } from "../src/backend/onnx.js";
import { Generator, type GeneratorMetadata } from "../src/generator.js";
import type { FloatImage, Mask } from "../src/image-types.js";

export interface FakeGenerator {
  generator: Generator;
  /** Batch size of every run call, in order. */
  calls: number[];
}

export function fakeGenerator(channels: 1 | 3 = 1, nextFrame = false): FakeGenerator {
  const calls: number[] = [];
  const session: OnnxSession = {
    inputs: [],
    outputs: [],
    options: {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      enableCpuMemArena: true,
      enableMemPattern: true,
      logSeverityLevel: 3,
      allowSpinning: false,
      enableProfiling: false,
      profileFilePrefix: "onnxruntime_profile",
    },
    async run(feeds) {
      const [b, c, h, w] = feeds.image.dims;
      calls.push(b);
      const plane = h * w;
      const image = feeds.image.data;
      const mask = feeds.mask.data;
      const next = feeds.next_frame?.data;
      const nextMask = new Float32Array(b * plane);
      for (let n = 0; n < b; n++) {
        for (let p = 0; p < plane; p++) {
          const i = n * c * plane + p;
          const frames = next ? 0.25 * image[i] + 0.25 * next[i] : 0.5 * image[i];
          nextMask[n * plane + p] = 0.5 * mask[n * plane + p] + frames;
        }
      }
      const nextImage = image.map((v) => 1 - v);
      const out: Record<string, TensorData> = {
        next_image: { data: nextImage, dims: [b, c, h, w] },
        next_mask: { data: nextMask, dims: [b, 1, h, w] },
      };
      return out;
    },
    endProfiling() {},
    async release() {},
  };
  const metadata: GeneratorMetadata = {
    format: "stillmotion.generator.onnx.v1",
    version: "test",
    preset: "fake",
    channels,
    valueRange: "0..1",
    generatorConfig: nextFrame ? { next_frame_input: true } : {},
    configHash: "",
    padMultiple: 1,
    producer: "test",
    opset: 13,
    extra: {},
  };
  return { generator: new Generator("fake.onnx", metadata, session), calls };
}

/** A constant frame. */
export function flatFrame(value: number, height = 2, width = 3, channels = 1): FloatImage {
  return { data: new Float32Array(channels * height * width).fill(value), channels, height, width };
}

export function flatMask(value: number, height = 2, width = 3): Mask {
  return { data: new Float32Array(height * width).fill(value), height, width };
}
