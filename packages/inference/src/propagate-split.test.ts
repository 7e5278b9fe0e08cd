/**
 * The split export (features graph + step graph, layout "split") of the shipped real-propagation
 * model gives the masks of its single mask-only graph, through onnxruntime, on real frames of the
 * vendored laryngoscopy clip: propagateMasks (one and two key frames, batched chains, features
 * batched ahead), propagateStream and stepMaskBatch. Each frame's features are computed once per
 * chain visit and only the chains' windows are held. The motion pipeline (the match on a worker
 * thread, the carry here: motion-pipeline.ts) gives the same masks as the step graph.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { editMetadata } from "../test/onnx-edit.js";
import { maxAbsDiff } from "../test/reference.js";
import { Code, InferenceError } from "./errors.js";
import { type Generator, loadGenerator } from "./generator.js";
import { readImage, readMask } from "./image-io.js";
import type { FloatImage, Mask } from "./image-types.js";
import { MotionPipeline } from "./motion-pipeline.js";
import { propagateMasks } from "./propagate.js";
import { propagateStream } from "./propagate-stream.js";

const CLIP = resolve(import.meta.dirname, "../../../data/real/vocalfolds-seq8-128");
const FRAMES = 14;
const TOLERANCE = 1e-4;

let single: Generator;
let split: Generator;
let frames: FloatImage[];
let masks: Mask[];

beforeAll(async () => {
  const { realMasks, realSplit } = inject("fixtures");
  [single, split] = await Promise.all([loadGenerator(realMasks), loadGenerator(realSplit)]);
  const names = Array.from({ length: FRAMES }, (_, i) => String(i * 3).padStart(6, "0"));
  frames = await Promise.all(names.map((n) => readImage(join(CLIP, "frames/seq8", `${n}.jpg`))));
  masks = await Promise.all(names.map((n) => readMask(join(CLIP, "gt/seq8", `${n}.png`))));
});

afterAll(async () => {
  await Promise.all([single?.dispose(), split?.dispose()]);
});

function worst(a: Mask[], b: Mask[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((m, i) => maxAbsDiff(m.data, b[i].data)));
}

describe("split layout", () => {
  it("is read from the file's metadata", () => {
    expect(single.layout).toBe("single");
    expect(split.layout).toBe("split");
    expect(split.hasImageOutput).toBe(false);
    expect(split.metadata.extra.features_graph).toBeUndefined(); // decoded, not kept in metadata
  });

  it("propagates one key frame both ways like the single graph, each frame's features once", async () => {
    const key = [{ index: 5, mask: masks[5] }];
    const a = await propagateMasks(single, frames, key);
    const b = await propagateMasks(split, frames, key);
    const diff = worst(a.masks, b.masks);
    console.log(`split vs single, max abs mask difference over ${FRAMES} real frames: ${diff}`);
    expect(diff).toBeLessThan(TOLERANCE);
    expect(b.steps).toBe(FRAMES - 1);
    expect(b.featureFrames).toBe(FRAMES); // every frame once (both chains start in one run)
    expect(b.peakFeatureFrames).toBeLessThanOrEqual(2 * 5); // two chains x (at .. at + 4d)
    const one = await propagateMasks(split, frames, key, { featureBatch: 1 });
    expect(worst(a.masks, one.masks)).toBeLessThan(TOLERANCE);
    expect(one.peakFeatureFrames).toBeLessThanOrEqual(2 * 2); // two chains x (at, at + d)
    expect(a.featureFrames).toBe(0);
  });

  it("matches with two key frames, linear fusion, one chain per call and features 2 ahead", async () => {
    const keys = [
      { index: 2, mask: masks[2] },
      { index: 11, mask: masks[11] },
    ];
    const a = await propagateMasks(single, frames, keys);
    const b = await propagateMasks(split, frames, keys, { maxBatch: 1, featureBatch: 2 });
    expect(worst(a.masks, b.masks)).toBeLessThan(TOLERANCE);
    expect(b.peakFeatureFrames).toBeLessThanOrEqual(4 * 3); // four chains x windows of 3
  });

  it("streams like the single graph", async () => {
    const run = async (g: Generator) => {
      const out: Mask[] = [];
      for await (const { mask } of propagateStream(g, frames, masks[0])) out.push(mask);
      return out;
    };
    const [a, b] = [await run(single), await run(split)];
    expect(b.length).toBe(FRAMES);
    expect(worst(a, b)).toBeLessThan(TOLERANCE);
  });

  it("runs stepMaskBatch and stepMotionMask from frames like the single graph", async () => {
    const a = await single.stepMaskBatch(frames.slice(0, 2), masks.slice(0, 2), frames.slice(1, 3));
    const b = await split.stepMaskBatch(frames.slice(0, 2), masks.slice(0, 2), frames.slice(1, 3));
    expect(worst(a, b)).toBeLessThan(TOLERANCE);
    const motion = [
      await single.stepMotionMask(frames[0], masks[0], frames[1]),
      await split.stepMotionMask(frames[0], masks[0], frames[1]),
    ];
    expect(maxAbsDiff(motion[0].data, motion[1].data)).toBeLessThan(TOLERANCE);
  });

  it("writes features into recycled buffers, refusing buffers of another size", async () => {
    const first = await split.frameFeaturesBatch(frames.slice(0, 2));
    const again = await split.frameFeaturesBatch(frames.slice(2, 4), first.outputs);
    const fresh = await split.frameFeaturesBatch(frames.slice(2, 4));
    for (const name of Object.keys(fresh.outputs)) {
      expect(again.outputs[name].data).toBe(first.outputs[name].data); // the same memory
      expect(maxAbsDiff(again.outputs[name].data, fresh.outputs[name].data)).toBe(0);
    }
    const err = await split.frameFeaturesBatch(frames.slice(0, 3), first.outputs).catch((e) => e);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/into\.features_s\d+.*\[3, channels/);
  });

  it("refuses frameFeatures on a single graph, naming the export option", async () => {
    const err = await single.frameFeatures([frames[0]]).catch((e) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toMatch(/--split/);
  });

  it("refuses an unknown layout, listing the known ones", async () => {
    const bytes = editMetadata(await readFile(inject("fixtures").realSplit), (meta) => ({
      ...meta,
      "stillmotion.layout": "tiled",
    }));
    const path = join(resolve(inject("fixtures").realSplit, ".."), "tiled.onnx");
    await writeFile(path, bytes);
    const err = await loadGenerator(path).catch((e) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toMatch(/unknown model layout "tiled".*single, split/);
    expect(err.message).toContain(path);
  });

  it("refuses a split file that lost its features graph", async () => {
    const bytes = editMetadata(await readFile(inject("fixtures").realSplit), (meta) => {
      const { "stillmotion.features_graph": _, ...rest } = meta;
      return rest;
    });
    const path = join(resolve(inject("fixtures").realSplit, ".."), "no-features.onnx");
    await writeFile(path, bytes);
    const err = await loadGenerator(path).catch((e) => e);
    expect(err.code).toBe(Code.DATA_LOSS);
    expect(err.message).toMatch(/features graph/);
  });
});

/** A copy of the split fixture with metadata edited by `edit`, written as `name`. */
async function editedSplit(name: string, edit: (meta: Record<string, string>) => Record<string, string>) {
  const path = join(resolve(inject("fixtures").realSplit, ".."), name);
  await writeFile(path, editMetadata(await readFile(inject("fixtures").realSplit), edit));
  return path;
}

describe("motion pipeline", () => {
  const keys = () => [
    { index: 2, mask: masks[2] },
    { index: 11, mask: masks[11] },
  ];

  it("is there in a fresh split export, its graphs decoded out of the metadata", () => {
    expect(split.canPipeline).toBe(true);
    expect(single.canPipeline).toBe(false);
    expect(split.metadata.extra.motion_graph).toBeUndefined();
    expect(split.metadata.extra.carry_graph).toBeUndefined();
    const { motion, carry } = split.pipelineThreads;
    expect(motion + carry).toBe(Math.max(2, split.sessionOptions.intraOpNumThreads));
  });

  it("gives the step graph's masks: both references, batched chains, features 1 and 4 ahead", async () => {
    for (const options of [
      { reference: "previous" as const },
      { reference: "key" as const, maxBatch: 4 },
      { reference: "previous" as const, maxBatch: 1, featureBatch: 1 },
    ]) {
      const a = await propagateMasks(split, frames, keys(), { ...options, pipeline: false });
      const b = await propagateMasks(split, frames, keys(), { ...options, pipeline: true });
      expect(worst(a.masks, b.masks)).toBeLessThan(TOLERANCE);
      expect(b.steps).toBe(a.steps);
      // the worker held a bounded window: frames of the next featureBatch rows
      expect(b.featureFrames).toBeGreaterThanOrEqual(FRAMES - 2);
      expect(b.peakFeatureFrames).toBeLessThanOrEqual(4 * 2 * ((options.featureBatch ?? 4) + 1));
    }
  });

  it("computes features on this thread or in the worker with the same masks", async () => {
    const pipeline = split.motionPipeline();
    const a = await propagateMasks(split, frames, keys(), { pipeline: false });
    try {
      for (const where of ["main", "worker"] as const) {
        pipeline.featuresOn = where;
        const before = { ...pipeline.featuresComputed };
        const b = await propagateMasks(split, frames, keys(), { pipeline: true });
        expect(worst(a.masks, b.masks)).toBeLessThan(TOLERANCE);
        const other = where === "main" ? "worker" : "main";
        expect(pipeline.featuresComputed[where] - before[where]).toBe(b.featureFrames);
        expect(pipeline.featuresComputed[other]).toBe(before[other]);
      }
    } finally {
      pipeline.featuresOn = "auto";
    }
  });

  it("puts the features on the lighter half: here while a carry is cheaper than a match", () => {
    const pipeline = new MotionPipeline(split.motionPipeline().data, async () => ({}));
    try {
      expect(pipeline.computesFeaturesHere()).toBe(false); // nothing measured yet
      pipeline.noteCarry(5.5);
      pipeline.noteMotion(7.8);
      expect(pipeline.computesFeaturesHere()).toBe(true);
      for (let i = 0; i < 20; i++) pipeline.noteCarry(12); // the running time follows
      expect(pipeline.computesFeaturesHere()).toBe(false);
      pipeline.featuresOn = "main";
      expect(pipeline.computesFeaturesHere()).toBe(true);
      const without = new MotionPipeline(split.motionPipeline().data);
      without.featuresOn = "main"; // no FeaturesHere: the worker computes them
      expect(without.computesFeaturesHere()).toBe(false);
      return without.close();
    } finally {
      void pipeline.close();
    }
  });

  it("streams the step graph's masks, from an async source too", async () => {
    const run = async (pipeline: boolean, source: AsyncIterable<FloatImage> | Iterable<FloatImage>) => {
      const out: Mask[] = [];
      for await (const { index, mask } of propagateStream(split, source, masks[0], { pipeline })) {
        expect(index).toBe(out.length);
        out.push(mask);
      }
      return out;
    };
    async function* slow(): AsyncGenerator<FloatImage> {
      for (const f of frames) {
        await new Promise((r) => setTimeout(r, 5));
        yield f;
      }
    }
    const a = await run(false, frames);
    expect(worst(a, await run(true, frames))).toBeLessThan(TOLERANCE);
    expect(worst(a, await run(true, slow()))).toBeLessThan(TOLERANCE);
  });

  it("ends the source when the consumer stops early, and stays usable", async () => {
    let closed = false;
    function* source(): globalThis.Generator<FloatImage> {
      try {
        yield* frames;
      } finally {
        closed = true;
      }
    }
    for await (const { index } of propagateStream(split, source(), masks[0], { pipeline: true })) {
      if (index === 3) break;
    }
    expect(closed).toBe(true);
    const again = await propagateMasks(split, frames.slice(0, 4), [{ index: 0, mask: masks[0] }], {
      pipeline: true,
    });
    expect(again.masks).toHaveLength(4);
  });

  it("stops on abort with ABORTED, and the next call works", async () => {
    const controller = new AbortController();
    const err = await propagateMasks(split, frames, keys(), {
      pipeline: true,
      featureBatch: 1,
      signal: controller.signal,
      onProgress: (done) => done >= 3 && controller.abort(),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.code).toBe(Code.ABORTED);
    const ok = await propagateMasks(split, frames, keys(), { pipeline: true });
    expect(ok.steps).toBe(20); // 2 + 8 steps from frame 2, 8 + 2 from frame 11
  });

  it("reports a bad frame in a stream with its index", async () => {
    const bad = [...frames.slice(0, 3), { ...frames[3], height: frames[3].height - 1 }];
    const err = await (async () => {
      for await (const _ of propagateStream(split, bad, masks[0], { pipeline: true }));
    })().catch((e) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/frame 3/);
  });

  it("is off by default for a split file exported before it, refused when asked for", async () => {
    const path = await editedSplit("no-pipeline.onnx", (meta) => {
      const { "stillmotion.motion_graph": _m, "stillmotion.carry_graph": _c, ...rest } = meta;
      return rest;
    });
    const old = await loadGenerator(path);
    try {
      expect(old.canPipeline).toBe(false);
      const key = [{ index: 0, mask: masks[0] }];
      const a = await propagateMasks(old, frames.slice(0, 4), key);
      expect(a.masks).toHaveLength(4);
      const err = await propagateMasks(old, frames.slice(0, 4), key, { pipeline: true }).catch((e) => e);
      expect(err.code).toBe(Code.INVALID_ARGUMENT);
      expect(err.message).toMatch(/pipeline.*--split/);
      expect(() => old.motionPipeline()).toThrow(/export it again with --split/);
    } finally {
      await old.dispose();
    }
  });

  it("ships models/real-propagation-256.onnx: the shipped weights with wide-half-grey and a half-size correction, split", async () => {
    const shipped = await loadGenerator(
      resolve(import.meta.dirname, "../../../models/real-propagation-256.onnx"),
    );
    try {
      expect(shipped.canPipeline).toBe(true);
      expect(shipped.metadata.generatorConfig.matcher).toBe("wide-half-grey");
      expect(shipped.metadata.generatorConfig.refine_scale).toBe(2);
      // the same weights as the wide-grey export: the matcher's finest level and the
      // correction's resolution differ
      const key = [{ index: 5, mask: masks[5] }];
      const a = await propagateMasks(split, frames, key, { reference: "key" });
      const b = await propagateMasks(shipped, frames, key, { reference: "key" });
      let [both, sum] = [0, 0]; // soft Dice of the two models' masks over the clip
      a.masks.forEach((m, t) => {
        m.data.forEach((v, i) => {
          both += v * b.masks[t].data[i];
          sum += v + b.masks[t].data[i];
        });
      });
      console.log(
        `models/real-propagation-256.onnx against the wide-grey export, soft Dice ${(2 * both) / sum}`,
      );
      expect((2 * both) / sum).toBeGreaterThan(0.8);
    } finally {
      await shipped.dispose();
    }
  });

  it("refuses a file with only one of the motion and carry graphs", async () => {
    const path = await editedSplit("half-pipeline.onnx", (meta) => {
      const { "stillmotion.carry_graph": _, ...rest } = meta;
      return rest;
    });
    const err = await loadGenerator(path).catch((e) => e);
    expect(err.code).toBe(Code.DATA_LOSS);
    expect(err.message).toMatch(/stillmotion\.carry_graph" is missing/);
    expect(err.message).toContain(path);
  });
});
