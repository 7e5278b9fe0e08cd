/**
 * The only module that imports onnxruntime-node. Everything else sees `OnnxSession`, a narrow
 * interface of plain typed arrays, so swapping the runtime (onnxruntime-web, a GPU provider)
 * touches this file alone.
 *
 * Defaults are chosen for speed on CPU: all available cores for intra-op parallelism, one
 * inter-op thread with sequential execution (the generator is a chain of convolutions with no
 * parallel branches worth scheduling apart), every graph optimisation (conv + activation fusion,
 * layout transforms), memory arena and pattern on (same shapes frame after frame), and intra-op
 * threads that sleep instead of spin-waiting between operators: on a machine whose cores are
 * shared (other processes, a UI, video capture) spinning threads steal the time the working thread
 * needs. Measured on 2 shared cores, realtime preset, 256x256: 2 threads spinning 15.9 ms/frame,
 * 1 thread 10.3 ms, 2 threads not spinning 8.7 ms (docs/models.md).
 */
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";

import { Code, InferenceError } from "../errors.js";

/** Session options a caller may override (a subset of onnxruntime's, same names). */
export interface SessionOptions {
  /** Threads inside one operator; default: the cores available to this process. */
  intraOpNumThreads?: number;
  /** Threads across operators; default 1 (only used with executionMode "parallel"). */
  interOpNumThreads?: number;
  /** Default "all". */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** Default "sequential". */
  executionMode?: "sequential" | "parallel";
  /** Fix symbolic dimensions (e.g. { batch: 1, height: 256, width: 256 }) for static planning. */
  freeDimensionOverrides?: Record<string, number>;
  /** Default true. */
  enableCpuMemArena?: boolean;
  /** Default true. */
  enableMemPattern?: boolean;
  /** onnxruntime log severity, 0 verbose .. 4 fatal; default 3 (errors only). */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Let idle intra-op threads spin-wait (lower latency on a dedicated machine); default false. */
  allowSpinning?: boolean;
  /**
   * Write onnxruntime's per-node profile (Chrome trace JSON) to `<profileFilePrefix>_<date>.json`
   * when `endProfiling()` is called; default false (tools/bench/profile-propagation.mjs uses it).
   */
  enableProfiling?: boolean;
  /** Path prefix of the profile file; default "onnxruntime_profile". */
  profileFilePrefix?: string;
}

/** A float32 tensor as plain data: row-major `data` of shape `dims`. */
export interface TensorData {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Name, element type and (possibly symbolic) shape of a model input or output. */
export interface ValueInfo {
  readonly name: string;
  readonly type: string;
  readonly shape: ReadonlyArray<number | string>;
}

export interface OnnxSession {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly options: Readonly<Required<Omit<SessionOptions, "freeDimensionOverrides">>> &
    Pick<SessionOptions, "freeDimensionOverrides">;
  /**
   * Run the model; `fetch` limits the outputs returned (default: all). `into` gives buffers of the
   * right size for outputs (then only those are fetched): onnxruntime writes into them instead of
   * allocating fresh arrays (a fresh 2-10 MB array per run costs its page faults and zero-fill).
   */
  run(
    feeds: Record<string, TensorData>,
    fetch?: readonly string[],
    into?: Record<string, TensorData>,
  ): Promise<Record<string, TensorData>>;
  /** Stop profiling and write the profile file (only with `enableProfiling`). */
  endProfiling(): void;
  release(): Promise<void>;
}

export const defaultSessionOptions = (): Required<Omit<SessionOptions, "freeDimensionOverrides">> => ({
  intraOpNumThreads: availableParallelism(),
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  enableCpuMemArena: true,
  enableMemPattern: true,
  logSeverityLevel: 3,
  allowSpinning: false,
  enableProfiling: false,
  profileFilePrefix: "onnxruntime_profile",
});

/** Open an ONNX model held in memory; `file` names it in errors. */
export async function createOnnxSession(
  model: Uint8Array,
  file: string,
  overrides: SessionOptions = {},
): Promise<OnnxSession> {
  const options = { ...defaultSessionOptions(), ...stripUndefined(overrides) };
  const { allowSpinning, ...ortOptions } = options;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      ...ortOptions,
      executionProviders: ["cpu"],
      // onnxruntime session config entry "session.intra_op.allow_spinning"
      extra: { session: { intra_op: { allow_spinning: allowSpinning ? "1" : "0" } } },
    });
  } catch (cause) {
    throw new InferenceError(Code.DATA_LOSS, `onnxruntime cannot load the model: ${message(cause)}`, {
      file,
      cause,
    });
  }
  const info = (m: ort.InferenceSession.ValueMetadata): ValueInfo =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: m.shape }
      : { name: m.name, type: "non-tensor", shape: [] };
  return {
    inputs: session.inputMetadata.map(info),
    outputs: session.outputMetadata.map(info),
    options,
    async run(feeds, fetch, into) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds))
        ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
      let results: ort.InferenceSession.ReturnType;
      try {
        if (into) {
          const outputs: Record<string, ort.Tensor> = {};
          for (const [name, t] of Object.entries(into))
            outputs[name] = new ort.Tensor("float32", t.data, t.dims);
          await session.run(ortFeeds, outputs);
          return { ...into };
        }
        results = fetch ? await session.run(ortFeeds, fetch as string[]) : await session.run(ortFeeds);
      } catch (cause) {
        throw new InferenceError(Code.INTERNAL, `onnxruntime failed to run the model: ${message(cause)}`, {
          file,
          cause,
        });
      }
      const out: Record<string, TensorData> = {};
      for (const [name, t] of Object.entries(results)) {
        out[name] = { data: t.data as Float32Array, dims: t.dims };
      }
      return out;
    },
    endProfiling() {
      session.endProfiling();
    },
    async release() {
      await session.release();
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
