import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { loadMask, writePng } from "./images.js";
import { importFrames } from "./import-frames.js";
import { loadManifest } from "./manifest.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-frames-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rgb = (w: number, h: number, v: number) => ({
  data: new Uint8Array(w * h * 3).fill(v),
  width: w,
  height: h,
  channels: 3,
});
const grey = (w: number, h: number, v: number) => ({
  data: new Uint8Array(w * h).fill(v),
  width: w,
  height: h,
  channels: 1,
});

/** frame1..frame10 as PNG (frame3 as JPEG), masks for frame2 and frame10. */
async function source(): Promise<void> {
  for (let i = 1; i <= 10; i++) {
    if (i === 3) {
      const jpg = await sharp(Buffer.from(rgb(12, 10, 90).data), {
        raw: { width: 12, height: 10, channels: 3 },
      })
        .jpeg()
        .toBuffer();
      await mkdir(path.join(dir, "in"), { recursive: true });
      await writeFile(path.join(dir, "in/frame3.jpg"), jpg);
    } else await writePng(path.join(dir, `in/frame${i}.png`), rgb(12, 10, i * 20));
  }
  const m = grey(12, 10, 0);
  m.data.fill(255, 0, 30);
  await writePng(path.join(dir, "masks/frame2.png"), m);
  await writePng(path.join(dir, "masks/frame10.png"), m);
}

const run = (extra: Record<string, unknown> = {}) =>
  importFrames({
    dir: path.join(dir, "in"),
    masks: path.join(dir, "masks"),
    out: path.join(dir, "ds"),
    ...extra,
  });

async function rejection(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

describe("importFrames", () => {
  it("imports frames in natural order with sparse key masks", async () => {
    await source();
    const r = await run({ fps: 30, id: "exam" });
    expect(r).toMatchObject({ videos: 1, frames: 10, keyMasks: 2, gtMasks: 0 });
    const m = await loadManifest(path.join(dir, "ds"));
    const v = m.data.videos[0];
    expect([v.id, v.fps, v.width, v.height]).toEqual(["exam", 30, 12, 10]);
    expect(v.frames.map((f) => f.keyMask !== undefined)).toEqual([
      false,
      true,
      ...Array(7).fill(false),
      true,
    ]);
    expect(v.frames[1]).toMatchObject({ keySource: "clinician", keyMask: "masks/exam/000001.png" });
    expect(v.frames[2].image).toBe("frames/exam/000002.jpg"); // JPEG copied, not re-encoded
    expect(await readFile(path.join(dir, "ds", v.frames[2].image))).toEqual(
      await readFile(path.join(dir, "in/frame3.jpg")),
    );
    expect(
      (await loadMask(path.join(dir, "ds", "masks/exam/000001.png"))).data.reduce((a, b) => a + b, 0),
    ).toBe(30);
    expect((await checkDataset(m)).ok).toBe(true);
  });

  it("imports evaluation masks separately", async () => {
    await source();
    const r = await importFrames({
      dir: path.join(dir, "in"),
      gtMasks: path.join(dir, "masks"),
      out: path.join(dir, "ds"),
    });
    expect(r).toMatchObject({ keyMasks: 0, gtMasks: 2 });
  });

  it("fails on a mask without a frame, naming it", async () => {
    await source();
    await writePng(path.join(dir, "masks/frame99.png"), grey(12, 10, 0));
    const e = await rejection(run());
    expect([e.reason, e.file]).toEqual(["unmatched_file", path.join(dir, "masks/frame99.png")]);
  });

  it("fails on a frame of another size", async () => {
    await source();
    await writePng(path.join(dir, "in/frame7.png"), rgb(12, 11, 0));
    const e = await rejection(run());
    expect([e.reason, e.file]).toEqual(["size_mismatch", path.join(dir, "in/frame7.png")]);
  });

  it("fails on a corrupt frame", async () => {
    await source();
    await writeFile(path.join(dir, "in/frame5.png"), "not a png");
    const e = await rejection(run());
    expect([e.reason, e.file]).toEqual(["unreadable_image", path.join(dir, "in/frame5.png")]);
    // staged import: nothing half-written is left behind
    expect((await readdir(dir)).sort()).toEqual(["in", "masks"]);
  });

  it("fails on grey masks and on masks of the wrong size", async () => {
    await source();
    await writePng(path.join(dir, "masks/frame2.png"), grey(12, 10, 128));
    expect((await rejection(run())).reason).toBe("mask_not_binary");
    await writePng(path.join(dir, "masks/frame2.png"), grey(11, 10, 0));
    expect((await rejection(run({ overwrite: true }))).reason).toBe("size_mismatch");
  });

  it("needs --mask-threshold 1 for 0/1 masks", async () => {
    await source();
    const m = grey(12, 10, 0);
    m.data.fill(1, 0, 30);
    await writePng(path.join(dir, "masks/frame2.png"), m);
    expect((await rejection(run())).message).toContain("--mask-threshold 1");
    await run({ maskThreshold: 1, overwrite: true });
    expect((await loadMask(path.join(dir, "ds/masks/in/000001.png"))).data.reduce((a, b) => a + b, 0)).toBe(
      30,
    );
  });

  it("refuses a non-empty output and an empty input", async () => {
    await source();
    await mkdir(path.join(dir, "ds"));
    await writeFile(path.join(dir, "ds/notes.txt"), "mine");
    expect((await rejection(run())).reason).toBe("output_exists");
    await mkdir(path.join(dir, "empty"));
    const e = await rejection(importFrames({ dir: path.join(dir, "empty"), out: path.join(dir, "ds2") }));
    expect([e.reason, e.file]).toEqual(["missing_file", path.join(dir, "empty")]);
  });

  it("converts to greyscale for ultrasound", async () => {
    await source();
    await importFrames({ dir: path.join(dir, "in"), out: path.join(dir, "ds"), modality: "ultrasound" });
    const m = await loadManifest(path.join(dir, "ds"));
    expect(m.data.channels).toBe(1);
    expect((await checkDataset(m)).ok).toBe(true);
  });
});
