import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { writePng } from "./images.js";
import { importClips } from "./import-clips.js";
import { loadManifest } from "./manifest.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-clips-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rgb = (v: number) => ({ data: new Uint8Array(8 * 6 * 3).fill(v), width: 8, height: 6, channels: 3 });
const mask = () => ({ data: new Uint8Array(8 * 6).fill(255, 0, 12), width: 8, height: 6, channels: 1 });

/** `<root>/<clip>/frames/<n>.png` for each frame, masks for the listed frames only. */
async function clip(name: string, frames: number, masked: number[], masksDir = "masks"): Promise<void> {
  for (let i = 0; i < frames; i++)
    await writePng(path.join(dir, "root", name, "frames", `${i}.png`), rgb(i * 9));
  for (const i of masked) await writePng(path.join(dir, "root", name, masksDir, `${i}.png`), mask());
}

const run = (extra: Record<string, unknown> = {}) =>
  importClips({ root: path.join(dir, "root"), out: path.join(dir, "ds"), ...extra });

async function rejection(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

describe("importClips", () => {
  it("imports every clip folder as one video, natural order, masks as evaluation masks", async () => {
    await clip("seq10", 3, [0, 2]);
    await clip("seq2", 12, [1, 10]);
    await clip("seq2 copy", 2, []);
    await mkdir(path.join(dir, "root", "notes"), { recursive: true }); // no frames folder: ignored
    await writeFile(path.join(dir, "root", "README.md"), "not a clip");
    const r = await run({ fps: 10 });
    expect(r).toMatchObject({ videos: 3, frames: 17, keyMasks: 0, gtMasks: 4 });
    const m = await loadManifest(path.join(dir, "ds"));
    expect(m.data.videos.map((v) => v.id)).toEqual(["seq2", "seq2-copy", "seq10"]);
    const seq2 = m.data.videos[0];
    expect([seq2.fps, seq2.width, seq2.height]).toEqual([10, 8, 6]);
    // frames in natural order: 10.png is the 11th frame, not the 3rd
    expect(seq2.frames[10]).toEqual({ image: "frames/seq2/000010.png", gtMask: "gt/seq2/000010.png" });
    expect(seq2.frames.filter((f) => f.gtMask).length).toBe(2);
    expect(m.data.source).toMatchObject({ tool: "stillmotion dataset import clips" });
    expect((await checkDataset(m)).ok).toBe(true);
  });

  it("takes other folder names", async () => {
    await clip("a", 2, [1], "gt");
    const r = await run({ masksDir: "gt" });
    expect(r).toMatchObject({ videos: 1, gtMasks: 1 });
    const e = await rejection(run({ framesDir: "images", overwrite: true }));
    expect(e.reason).toBe("missing_file");
    expect(e.detail).toContain("no sub-folder holds a 'images' folder");
  });

  it("fails on a mask without a frame, naming it, and writes nothing", async () => {
    await clip("a", 2, [1]);
    await clip("b", 2, [5]);
    const e = await rejection(run());
    expect([e.reason, e.file]).toEqual(["unmatched_file", path.join(dir, "root/b/masks/5.png")]);
    await expect(loadManifest(path.join(dir, "ds"))).rejects.toThrow(DatasetError);
  });

  it("fails on two clips with one id", async () => {
    await clip("a b", 1, []);
    await clip("a-b", 1, []);
    const e = await rejection(run());
    expect(e.reason).toBe("duplicate_id");
    expect(e.detail).toContain("'a-b'");
  });

  it("fails on a root without clips and a missing root", async () => {
    await mkdir(path.join(dir, "root"), { recursive: true });
    expect((await rejection(run())).reason).toBe("missing_file");
    const missing = await rejection(importClips({ root: path.join(dir, "nope"), out: path.join(dir, "ds") }));
    expect([missing.reason, missing.file]).toEqual(["missing_file", path.join(dir, "nope")]);
  });
});
