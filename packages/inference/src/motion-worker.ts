/**
 * The motion worker (a worker thread, started by motion-pipeline.ts): the match half of a split
 * model's step, away from the thread that carries the masks. It owns onnxruntime sessions of the
 * features graph and the motion graph (split-layout.ts), keeps each frame's features while the
 * main thread says it is needed, and answers each request with the level motion of its frame
 * pairs, in order. onnxruntime-node runs a session on the calling thread, so this thread is what
 * lets the match and the mask steps use two cores at once. A frame arrives as pixels (this
 * thread computes its features) or as features the main thread computed (motion-pipeline.ts,
 * "Where a frame's features are computed").
 *
 * Messages (motion-pipeline.ts builds them): in, a `MotionRequest`; out, a `MotionReply` per
 * request, in the order received.
 */
import { parentPort, workerData } from "node:worker_threads";

import { createOnnxSession, type OnnxSession, type TensorData } from "./backend/onnx.js";
import type { MotionReply, MotionRequest, MotionWorkerData } from "./motion-pipeline.js";

const data = workerData as MotionWorkerData;
const sessions: Promise<[OnnxSession, OnnxSession]> = Promise.all([
  createOnnxSession(data.featuresGraph, `${data.file} (features graph)`, data.session),
  createOnnxSession(data.motionGraph, `${data.file} (motion graph)`, data.session),
]);
sessions.catch(() => {}); // a graph onnxruntime refuses is reported in each request's reply
/** Frame key ("session/index") -> its features, one tensor per level (the features graph's
 * output names). */
const held = new Map<string, Record<string, TensorData>>();

async function answer(
  request: MotionRequest,
): Promise<Required<Pick<MotionReply, "id" | "levels" | "dims">> & Pick<MotionReply, "motionMs">> {
  const [features, motion] = await sessions;
  for (const frame of request.frames) {
    const computed = frame.features ?? (frame.pixels && (await features.run({ image: frame.pixels })));
    held.set(frame.key, computed ?? missing(frame.key));
  }
  const levels: Float32Array[] = [];
  const dims: number[][] = [];
  const started = performance.now();
  for (const [from, to] of request.pairs) {
    const feeds: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(held.get(from) ?? missing(from))) feeds[name] = tensor;
    for (const [name, tensor] of Object.entries(held.get(to) ?? missing(to))) feeds[`next_${name}`] = tensor;
    const out = (await motion.run(feeds, [data.motionOutput]))[data.motionOutput];
    // a copy of its own buffer (onnxruntime's may be shared or not detachable), then moved
    levels.push(out.data.slice());
    dims.push([...out.dims]);
  }
  const motionMs =
    request.pairs.length > 0 ? (performance.now() - started) / request.pairs.length : undefined;
  const keep = new Set(request.keep);
  const prefix = `${request.session}/`;
  for (const key of [...held.keys()]) if (key.startsWith(prefix) && !keep.has(key)) held.delete(key);
  return { id: request.id, levels, dims, motionMs };
}

function missing(key: string): never {
  throw new Error(`motion worker: frame ${key} was neither sent nor kept (a pipeline bug)`);
}

// one request at a time, in order: a later request may read features an earlier one sent
let queue: Promise<void> = Promise.resolve();
parentPort?.on("message", (request: MotionRequest) => {
  queue = queue.then(async () => {
    try {
      const reply = await answer(request);
      parentPort?.postMessage(
        reply,
        reply.levels.map((l) => l.buffer as ArrayBuffer),
      );
    } catch (err) {
      const code = (err as { code?: number }).code;
      const message = err instanceof Error ? err.message : String(err);
      parentPort?.postMessage({ id: request.id, error: { code, message } } satisfies MotionReply);
    }
  });
});
