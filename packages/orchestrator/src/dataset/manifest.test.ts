import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code } from "../errors.js";
import { DatasetError, type DatasetReason } from "./errors.js";
import { writePng } from "./images.js";
import { keyIndices, loadManifest, MAX_PIXELS, type ManifestData, pathProblem } from "./manifest.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "sm-manifest-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A valid 8x8 RGB dataset of `videos` x 3 frames; frame 0 carries a key mask. */
async function tiny(videos = 1): Promise<ManifestData> {
  const data: ManifestData = {
    format: "stillmotion-dataset",
    version: 1,
    name: "tiny",
    modality: "endoscopy",
    channels: 3,
    videos: [],
  };
  for (let v = 0; v < videos; v++) {
    const frames = [];
    for (let t = 0; t < 3; t++) {
      const image = `frames/v${v}/${t}.png`;
      await writePng(path.join(root, image), {
        data: new Uint8Array(8 * 8 * 3).fill(40 * t),
        width: 8,
        height: 8,
        channels: 3,
      });
      frames.push({ image });
    }
    const mask = `masks/v${v}/0.png`;
    await writePng(path.join(root, mask), {
      data: new Uint8Array(64).fill(255, 0, 20),
      width: 8,
      height: 8,
      channels: 1,
    });
    Object.assign(frames[0], { keyMask: mask, keySource: "clinician", gtMask: mask });
    data.videos.push({ id: `v${v}`, fps: 25, width: 8, height: 8, frames });
  }
  await save(data);
  return data;
}

async function save(data: unknown): Promise<void> {
  await writeFile(path.join(root, "manifest.json"), JSON.stringify(data));
}

async function expectError(reason: DatasetReason, ...fragments: string[]): Promise<DatasetError> {
  const err = await loadManifest(root).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  const e = err as DatasetError;
  expect(e.reason, e.message).toBe(reason);
  for (const f of fragments) expect(e.message).toContain(f);
  return e;
}

describe("loadManifest", () => {
  it("loads a valid dataset from its folder or its manifest.json", async () => {
    await tiny(2);
    const m = await loadManifest(root);
    expect(m.root).toBe(root);
    expect(m.data.videos.map((v) => v.id)).toEqual(["v0", "v1"]);
    expect(keyIndices(m.data.videos[0])).toEqual([0]);
    expect((await loadManifest(path.join(root, "manifest.json"))).file).toBe(
      path.join(root, "manifest.json"),
    );
  });

  it("rejects an absolute path, naming manifest and field", async () => {
    const d = await tiny();
    d.videos[0].frames[1].image = path.join(root, "frames/v0/1.png");
    await save(d);
    const e = await expectError("unsafe_path", "videos[0].frames[1].image", "absolute");
    expect(e.file).toBe(path.join(root, "manifest.json"));
    expect(e.code).toBe(Code.INVALID_ARGUMENT);
  });

  it("rejects '..'", async () => {
    const d = await tiny();
    d.videos[0].frames[0].keyMask = "masks/../../secret.png";
    await save(d);
    await expectError("unsafe_path", "videos[0].frames[0].keyMask", "'..'");
  });

  it("names a missing file", async () => {
    await tiny();
    await unlink(path.join(root, "frames/v0/2.png"));
    const e = await expectError("missing_file", "videos[0].frames[2].image");
    expect(e.file).toBe(path.join(root, "frames/v0/2.png"));
    expect(e.code).toBe(Code.NOT_FOUND);
  });

  it("names a missing manifest", async () => {
    await expectError("missing_file", "manifest.json");
  });

  it("rejects an empty video", async () => {
    const d = await tiny();
    d.videos[0].frames = [];
    await save(d);
    await expectError("empty_video", "'v0'");
  });

  it.each([
    [0, 8, "videos[0].width"],
    [100000, 8, "videos[0].width"],
    [8, -3, "videos[0].height"],
    [8.5, 8, "videos[0].width"],
  ])("rejects absurd dimensions %s x %s", async (width, height, fragment) => {
    const d = await tiny();
    Object.assign(d.videos[0], { width, height });
    await save(d);
    await expectError("bad_dimensions", fragment);
  });

  it("rejects more than MAX_PIXELS per frame", async () => {
    const d = await tiny();
    Object.assign(d.videos[0], { width: 16384, height: 16384 });
    await save(d);
    await expectError("bad_dimensions", String(MAX_PIXELS));
  });

  it("rejects bad JSON, other versions, unknown fields, bad enums, duplicates", async () => {
    await writeFile(path.join(root, "manifest.json"), '{"format": "stillmotion-dataset",\n oops}');
    await expectError("invalid_manifest", "not valid JSON");
    const d = await tiny(2);
    await save({ ...d, version: 2 });
    await expectError("unsupported_version", "version 2");
    await save({ ...d, modality: "mri" });
    await expectError("invalid_manifest", "modality", '"endoscopy"');
    const typo = structuredClone(d);
    Object.assign(typo.videos[0].frames[1], { keymask: "masks/v0/0.png" });
    await save(typo);
    await expectError("invalid_manifest", "videos[0].frames[1]", "keymask");
    const orphanSource = structuredClone(d);
    orphanSource.videos[0].frames[1].keySource = "detector";
    await save(orphanSource);
    await expectError("invalid_manifest", "keyMask");
    const dupId = structuredClone(d);
    dupId.videos[1].id = "v0";
    await save(dupId);
    await expectError("duplicate_id", "videos[1].id");
    const dupPath = structuredClone(d);
    dupPath.videos[1].frames[0].image = "frames/v0/0.png";
    await save(dupPath);
    await expectError("duplicate_path", "videos[1].frames[0].image");
  });
});

describe("pathProblem", () => {
  it.each([
    ["a/b.png", undefined],
    ["/a.png", "absolute"],
    ["C:/a.png", "drive-letter"],
    ["a\\b.png", "backslash"],
    ["a/../b.png", "'..'"],
    ["a/./b.png", "'.'"],
    ["a//b.png", "empty"],
  ])("%s", (value, expected) => {
    const problem = pathProblem(value);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(expected);
  });
});
