/**
 * Pluggable lesion detector for key-frame masks (METHOD.md "Key frames": masks "from an already
 * trained lesion detector", claim 10). Any ONNX segmentation model meeting this contract works:
 *
 *   input  `image`: float32 [1, C, H, W], values 0..1, C = the dataset's channels
 *   output `mask`:  float32 [1, 1, H, W], lesion probability 0..1 (sigmoid inside the model)
 *
 * H and W may be symbolic (any size) or fixed to the dataset's frame size. The mask is
 * binarised at 0.5. Running ONNX is @stillmotion/inference's job (its backend is the one module
 * that imports onnxruntime); this file only checks the contract and shapes data.
 */
import { readFile } from "node:fs/promises";
import { DatasetError, errorMessage } from "./errors.js";
import type { PlanarImage } from "./keyframe-scores.js";

export const DETECTOR_INPUT = "image";
export const DETECTOR_OUTPUT = "mask";
export const DETECTOR_THRESHOLD = 0.5;

export interface TensorLike {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** The shape of @stillmotion/inference's OnnxSession that a detector needs. */
export interface SegmentationSession {
  readonly inputs: ReadonlyArray<{ name: string; shape: ReadonlyArray<number | string> }>;
  readonly outputs: ReadonlyArray<{ name: string; shape: ReadonlyArray<number | string> }>;
  run(feeds: Record<string, TensorLike>, fetch?: readonly string[]): Promise<Record<string, TensorLike>>;
  release(): Promise<void>;
}

export type SessionOpener = (model: Uint8Array, file: string) => Promise<SegmentationSession>;

/** Opens sessions through @stillmotion/inference; fails clearly while it exports no opener. */
export const inferenceOpener: SessionOpener = async (model, file) => {
  const inference = (await import("@stillmotion/inference")) as Record<string, unknown>;
  const create = inference.createOnnxSession;
  if (typeof create !== "function") {
    throw new DatasetError(
      "tool_failed",
      file,
      "@stillmotion/inference does not export createOnnxSession, so ONNX detectors cannot run yet",
    );
  }
  return (create as SessionOpener)(model, file);
};

function checkDim(file: string, what: string, actual: number | string | undefined, expected: number): void {
  if (typeof actual === "number" && actual !== expected && actual !== -1) {
    throw new DatasetError("unsupported_input", file, `${what} is ${actual}, the contract needs ${expected}`);
  }
}

export class LesionDetector {
  private constructor(
    readonly file: string,
    private readonly session: SegmentationSession,
    readonly channels: number,
  ) {}

  /** Open `file` and check its inputs/outputs against the contract for `channels`-channel frames. */
  static async open(
    file: string,
    channels: 1 | 3,
    opener: SessionOpener = inferenceOpener,
  ): Promise<LesionDetector> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(file));
    } catch (cause) {
      throw new DatasetError("missing_file", file, "detector model not found", { cause });
    }
    const session = await opener(bytes, file);
    const input = session.inputs.find((i) => i.name === DETECTOR_INPUT);
    const output = session.outputs.find((o) => o.name === DETECTOR_OUTPUT);
    const names = (xs: ReadonlyArray<{ name: string }>) => xs.map((x) => `"${x.name}"`).join(", ") || "none";
    if (!input) {
      await session.release();
      throw new DatasetError(
        "unsupported_input",
        file,
        `detector has no input "${DETECTOR_INPUT}" (inputs: ${names(session.inputs)})`,
      );
    }
    if (!output) {
      await session.release();
      throw new DatasetError(
        "unsupported_input",
        file,
        `detector has no output "${DETECTOR_OUTPUT}" (outputs: ${names(session.outputs)})`,
      );
    }
    if (input.shape.length !== 4 || output.shape.length !== 4) {
      await session.release();
      throw new DatasetError(
        "unsupported_input",
        file,
        `detector input/output must be 4-D [1, C, H, W], got [${input.shape}] and [${output.shape}]`,
      );
    }
    checkDim(file, "input channel dimension", input.shape[1], channels);
    checkDim(file, "output channel dimension", output.shape[1], 1);
    return new LesionDetector(file, session, channels);
  }

  /** Binary lesion mask (H*W, values 0/1) for one frame. */
  async detect(image: PlanarImage): Promise<Float32Array> {
    if (image.channels !== this.channels) {
      throw new DatasetError(
        "wrong_channels",
        this.file,
        `frame has ${image.channels} channels, detector was opened for ${this.channels}`,
      );
    }
    const dims = [1, image.channels, image.height, image.width];
    let result: Record<string, TensorLike>;
    try {
      result = await this.session.run({ [DETECTOR_INPUT]: { data: Float32Array.from(image.data), dims } }, [
        DETECTOR_OUTPUT,
      ]);
    } catch (cause) {
      if (cause instanceof DatasetError) throw cause;
      throw new DatasetError(
        "tool_failed",
        this.file,
        `detector failed on a ${image.width}x${image.height} frame: ${errorMessage(cause)}`,
        {
          cause,
        },
      );
    }
    const out = result[DETECTOR_OUTPUT];
    const want = [1, 1, image.height, image.width];
    if (out?.dims.length !== 4 || out.dims.some((d, i) => d !== want[i])) {
      throw new DatasetError(
        "unsupported_input",
        this.file,
        `detector output "mask" is [${out?.dims}], expected [${want}]`,
      );
    }
    const mask = new Float32Array(out.data.length);
    for (let i = 0; i < mask.length; i++) {
      const v = out.data[i];
      if (!(v >= -1e-3 && v <= 1 + 1e-3)) {
        throw new DatasetError(
          "unsupported_input",
          this.file,
          `detector output holds ${v}; the contract needs probabilities in 0..1 (put the sigmoid in the model)`,
        );
      }
      mask[i] = v >= DETECTOR_THRESHOLD ? 1 : 0;
    }
    return mask;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
