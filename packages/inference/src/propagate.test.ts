// propagateMasks and propagateStream against a generator known in closed form
// (test/fake-generator.ts: next_mask = 0.5 * mask + 0.5 * frame).
import { describe, expect, it } from "vitest";

import { fakeGenerator, flatFrame, flatMask } from "../test/fake-generator.js";
import { Code, InferenceError } from "./errors.js";
import type { Mask } from "./image-types.js";
import { propagateMasks } from "./propagate.js";
import { propagateStream } from "./propagate-stream.js";

const values = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const frames = values.map((v) => flatFrame(v));

/** Independent scalar model of one chain: masks from key frame k walking in `dir`. */
function chain(k: number, m0: number, dir: 1 | -1): Map<number, number> {
  const out = new Map<number, number>([[k, m0]]);
  let m = m0;
  for (let t = k; t + dir >= 0 && t + dir < values.length; t += dir) {
    m = 0.5 * m + 0.5 * values[t];
    out.set(t + dir, m);
  }
  return out;
}

const at = (masks: Mask[], t: number) => masks[t].data[0];

describe("propagateMasks", () => {
  it("one key frame: backward before it, forward after it", async () => {
    const { generator } = fakeGenerator();
    const r = await propagateMasks(generator, frames, [{ index: 4, mask: flatMask(1) }]);
    const fwd = chain(4, 1, 1);
    const bwd = chain(4, 1, -1);
    for (let t = 0; t < values.length; t++) {
      const expected = t < 4 ? bwd.get(t) : fwd.get(t);
      expect(at(r.masks, t)).toBeCloseTo(expected as number, 6);
    }
    expect(r.steps).toBe(values.length - 1);
    expect(r.sources[2]).toEqual([{ keyframe: 4, weight: 1 }]);
  });

  it('"linear": between two key frames, the distance-weighted average of both chains', async () => {
    const { generator } = fakeGenerator();
    const keys = [
      { index: 1, mask: flatMask(1) },
      { index: 6, mask: flatMask(0) },
    ];
    const r = await propagateMasks(generator, frames, keys);
    const f1 = chain(1, 1, 1);
    const b6 = chain(6, 0, -1);
    for (let t = 2; t < 6; t++) {
      const expected = ((6 - t) * (f1.get(t) as number) + (t - 1) * (b6.get(t) as number)) / 5;
      expect(at(r.masks, t)).toBeCloseTo(expected, 6);
      expect(r.sources[t]).toEqual([
        { keyframe: 1, weight: (6 - t) / 5 },
        { keyframe: 6, weight: (t - 1) / 5 },
      ]);
    }
    expect(at(r.masks, 1)).toBe(1);
    expect(at(r.masks, 6)).toBe(0);
    expect(at(r.masks, 0)).toBeCloseTo(chain(1, 1, -1).get(0) as number, 6);
    expect(at(r.masks, 8)).toBeCloseTo(chain(6, 0, 1).get(8) as number, 6);
    expect(r.steps).toBe(1 + 4 + 4 + 2); // before 1, 1->5, 6->2, after 6
  });

  it('"nearest": each frame from its nearest key frame, ties to the earlier one, fewer steps', async () => {
    const { generator } = fakeGenerator();
    const keys = [
      { index: 6, mask: flatMask(0) }, // given out of order on purpose
      { index: 2, mask: flatMask(1) },
    ];
    const r = await propagateMasks(generator, frames, keys, { fusion: "nearest" });
    const f2 = chain(2, 1, 1);
    const b6 = chain(6, 0, -1);
    expect(at(r.masks, 3)).toBeCloseTo(f2.get(3) as number, 6);
    expect(at(r.masks, 4)).toBeCloseTo(f2.get(4) as number, 6); // tie: 4 is 2 from both
    expect(at(r.masks, 5)).toBeCloseTo(b6.get(5) as number, 6);
    expect(r.sources[4]).toEqual([{ keyframe: 2, weight: 1 }]);
    expect(r.steps).toBe(2 + 2 + 1 + 2); // before 2, 2->4, 6->5, after 6
  });

  it('reference "key": every frame from its key frame and key mask, G(I_k, M_k, I_t)', async () => {
    const { generator } = fakeGenerator(1, true);
    const keys = [
      { index: 1, mask: flatMask(1) },
      { index: 6, mask: flatMask(0) },
    ];
    const r = await propagateMasks(generator, frames, keys, { reference: "key" });
    const g = (k: number, m: number, t: number) => 0.5 * m + 0.25 * values[k] + 0.25 * values[t];
    expect(at(r.masks, 0)).toBeCloseTo(g(1, 1, 0), 6);
    for (const t of [2, 3, 4, 5]) {
      const expected = ((6 - t) * g(1, 1, t) + (t - 1) * g(6, 0, t)) / 5;
      expect(at(r.masks, t)).toBeCloseTo(expected, 6);
    }
    expect(at(r.masks, 8)).toBeCloseTo(g(6, 0, 8), 6);
    expect(r.steps).toBe(1 + 4 + 4 + 2);
    const previous = await propagateMasks(generator, frames, keys);
    expect(at(previous.masks, 3)).not.toBeCloseTo(at(r.masks, 3), 6); // the chain feeds back
  });

  it('reference "key" needs a generator that takes the next frame; unknown references are refused', async () => {
    const { generator } = fakeGenerator();
    const keys = [{ index: 0, mask: flatMask(1) }];
    await expect(propagateMasks(generator, frames, keys, { reference: "key" })).rejects.toThrow(
      /takes the next frame/,
    );
    const other = fakeGenerator(1, true).generator;
    // biome-ignore lint/suspicious/noExplicitAny: a value outside the type, as from JavaScript
    await expect(propagateMasks(other, frames, keys, { reference: "next" as any })).rejects.toThrow(
      /previous, key/,
    );
  });

  it("batches independent chains without changing results", async () => {
    const keys = [
      { index: 0, mask: flatMask(1) },
      { index: 8, mask: flatMask(0) },
    ];
    const one = fakeGenerator();
    const four = fakeGenerator();
    const a = await propagateMasks(one.generator, frames, keys, { maxBatch: 1 });
    const b = await propagateMasks(four.generator, frames, keys, { maxBatch: 4 });
    expect(b.masks.map((m) => m.data[0])).toEqual(a.masks.map((m) => m.data[0]));
    expect(one.calls.every((n) => n === 1)).toBe(true);
    expect(four.calls).toEqual(Array(7).fill(2));
  });

  it("reports progress and stops on abort", async () => {
    const { generator } = fakeGenerator();
    const seen: number[] = [];
    const controller = new AbortController();
    const err = await propagateMasks(generator, frames, [{ index: 0, mask: flatMask(1) }], {
      onProgress: (done, total) => {
        seen.push(done);
        expect(total).toBe(8);
        if (done === 3) controller.abort();
      },
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(seen).toEqual([1, 2, 3]);
    expect((err as InferenceError).code).toBe(Code.ABORTED);
  });

  it.each([
    ["no frames", [], [{ index: 0, mask: flatMask(1) }], /frames: expected at least one frame/],
    ["no key frames", frames, [], /keyframes: expected at least one key frame/],
    [
      "index out of range",
      frames,
      [{ index: 9, mask: flatMask(1) }],
      /keyframes\[0\].index: expected an integer in 0..8, got 9/,
    ],
    [
      "duplicate key frame",
      frames,
      [
        { index: 1, mask: flatMask(1) },
        { index: 1, mask: flatMask(0) },
      ],
      /keyframes\[1\].index/,
    ],
    [
      "mask of another size",
      frames,
      [{ index: 1, mask: flatMask(1, 4, 4) }],
      /keyframes\[0\].mask size: expected 2x3/,
    ],
    [
      "frames of different sizes",
      [flatFrame(0), flatFrame(0, 3, 3)],
      [{ index: 0, mask: flatMask(1) }],
      /frames\[1\] size/,
    ],
  ])("rejects %s with INVALID_ARGUMENT", async (_name, fs, keys, message) => {
    const { generator } = fakeGenerator();
    const err = await propagateMasks(generator, fs, keys).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceError);
    expect((err as InferenceError).code).toBe(Code.INVALID_ARGUMENT);
    expect((err as InferenceError).message).toMatch(message);
  });

  it("rejects an unknown fusion, listing the allowed ones", async () => {
    const { generator } = fakeGenerator();
    const err = await propagateMasks(generator, frames, [{ index: 0, mask: flatMask(1) }], {
      fusion: "max" as "linear",
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/fusion: expected one of: linear, nearest, got "max"/);
  });
});

describe("propagateStream", () => {
  it("yields the initial mask for frame 0, then G(I_t, M_t) for frame t+1", async () => {
    const { generator } = fakeGenerator();
    async function* live() {
      for (const f of frames.slice(0, 4)) yield f;
    }
    const got: number[] = [];
    for await (const { index, mask } of propagateStream(generator, live(), flatMask(1))) {
      expect(index).toBe(got.length);
      got.push(mask.data[0]);
    }
    const expected = chain(0, 1, 1);
    expect(got).toHaveLength(4);
    got.forEach((m, t) => {
      expect(m).toBeCloseTo(expected.get(t) as number, 6);
    });
  });

  it("rejects a frame whose size changes mid-stream", async () => {
    const { generator } = fakeGenerator();
    const stream = propagateStream(generator, [flatFrame(0), flatFrame(0, 4, 4)], flatMask(1));
    await stream.next();
    await expect(stream.next()).rejects.toThrow(/frame 1 size: expected 2x3 like frame 0/);
  });
});
