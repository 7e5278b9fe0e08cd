import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { importStills } from "./import-stills.js";
import { loadManifest } from "./manifest.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-stills-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An image file in any format sharp writes; masks are RGB like Kvasir's JPEG masks. */
async function image(file: string, w: number, h: number, format: "jpeg" | "png" | "tiff", lesion = false) {
  const data = Buffer.alloc(w * h * 3, lesion ? 0 : 120);
  if (lesion) data.fill(255, 0, (w * h * 3) / 2); // top half lesion
  const img = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  await writeFile(file, await img.toFormat(format, format === "jpeg" ? { quality: 95 } : {}).toBuffer());
}

async function kvasir(): Promise<string> {
  const src = path.join(dir, "kvasir");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(path.join(src, "images"), { recursive: true });
  await mkdir(path.join(src, "masks"), { recursive: true });
  await image(path.join(src, "images/cju0qkwl35piu0993l0dewei2.jpg"), 20, 16, "jpeg");
  await image(path.join(src, "masks/cju0qkwl35piu0993l0dewei2.jpg"), 20, 16, "jpeg", true);
  await image(path.join(src, "images/second one.jpg"), 24, 18, "jpeg");
  await image(path.join(src, "masks/second one.jpg"), 24, 18, "jpeg", true);
  return src;
}

async function rejection(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

describe("importStills", () => {
  it("imports Kvasir-SEG images/ + masks/ as one-frame videos", async () => {
    const r = await importStills({ dir: await kvasir(), out: path.join(dir, "ds") });
    expect(r).toMatchObject({ videos: 2, frames: 2, keyMasks: 2, gtMasks: 2 });
    const m = await loadManifest(path.join(dir, "ds"));
    expect(m.data.source).toMatchObject({ layout: "kvasir" });
    expect(m.data.videos.map((v) => [v.id, v.width, v.height, v.fps])).toEqual([
      ["cju0qkwl35piu0993l0dewei2", 20, 16, 1],
      ["second-one", 24, 18, 1],
    ]);
    expect(m.data.videos[0].frames[0]).toMatchObject({
      keySource: "clinician",
      image: "frames/cju0qkwl35piu0993l0dewei2/000000.jpg",
    });
    expect((await checkDataset(m)).errors).toEqual([]);
  });

  it("imports CVC-ClinicDB Original/ + Ground Truth/ (TIFF)", async () => {
    const src = path.join(dir, "CVC-ClinicDB");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(path.join(src, "Original"), { recursive: true });
    await mkdir(path.join(src, "Ground Truth"), { recursive: true });
    for (const n of ["1", "2", "10"]) {
      await image(path.join(src, `Original/${n}.tif`), 16, 12, "tiff");
      await image(path.join(src, `Ground Truth/${n}.tif`), 16, 12, "tiff", true);
    }
    const r = await importStills({ dir: src, out: path.join(dir, "ds") });
    expect(r.videos).toBe(3);
    const m = await loadManifest(path.join(dir, "ds"));
    expect(m.data.videos.map((v) => v.id)).toEqual(["1", "2", "10"]);
    expect(m.data.videos[0].frames[0].image).toBe("frames/1/000000.png"); // TIFF re-encoded
    expect((await checkDataset(m)).ok).toBe(true);
  });

  it("fails on an image without a mask unless allowed", async () => {
    const src = await kvasir();
    await image(path.join(src, "images/lonely.jpg"), 20, 16, "jpeg");
    const e = await rejection(importStills({ dir: src, out: path.join(dir, "ds") }));
    expect([e.reason, e.file]).toEqual(["unmatched_file", path.join(src, "images/lonely.jpg")]);
    const r = await importStills({ dir: src, out: path.join(dir, "ds2"), allowUnmasked: true });
    expect(r).toMatchObject({ videos: 3, keyMasks: 2 });
  });

  it("fails on a mask without an image, a mask of another size, an unknown layout", async () => {
    const src = await kvasir();
    await image(path.join(src, "masks/ghost.jpg"), 20, 16, "jpeg", true);
    expect((await rejection(importStills({ dir: src, out: path.join(dir, "ds") }))).file).toBe(
      path.join(src, "masks/ghost.jpg"),
    );
    await rm(path.join(src, "masks/ghost.jpg"));
    await image(path.join(src, "masks/second one.jpg"), 20, 16, "jpeg", true);
    expect((await rejection(importStills({ dir: src, out: path.join(dir, "ds") }))).reason).toBe(
      "size_mismatch",
    );
    const e = await rejection(importStills({ dir: path.join(src, "images"), out: path.join(dir, "ds3") }));
    expect(e.message).toContain("Kvasir-SEG");
  });
});
