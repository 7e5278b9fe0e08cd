// DatasetWriter: videos streamed in, the manifest validated like any reader's before the folder
// is published, nothing left behind on failure, only datasets ever replaced.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createImage, createMask, type FloatImage, readImage } from "@stillmotion/inference";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { repoRoot } from "../repo-paths.js";
import { DatasetError } from "./errors.js";
import { loadManifest } from "./manifest.js";
import { DatasetWriter, writeDataset } from "./write.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-write-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A square that brightens over `n` frames; yielded one at a time like a generator's output. */
async function* frames(n: number, channels = 3, size = 8): AsyncGenerator<FloatImage> {
  for (let t = 0; t < n; t++) {
    const image = createImage(channels, size, size, 0.1);
    image.data.fill(0.2 + 0.1 * t, 0, size * 2);
    yield image;
  }
}

const square = (size = 8) => {
  const mask = createMask(size, size);
  mask.data.fill(1, 0, size * 3);
  return mask;
};

const header = { name: "written", modality: "endoscopy" as const, source: { tool: "write.test" } };

/** Names in `dir` besides `keep`: staging folders must never survive. */
async function leftovers(keep: string[] = []): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !keep.includes(n));
}

describe("DatasetWriter", () => {
  it("streams videos in, and the result passes both readers (TS loadManifest, Python dataset-check)", async () => {
    const out = path.join(dir, "ds");
    const writer = await DatasetWriter.open(out);
    await writer.addVideo({
      id: "still-000",
      fps: 10,
      frames: frames(3),
      masks: [square(), undefined, square()],
    });
    await writer.addVideo({
      id: "clip",
      fps: 5,
      frames: frames(2),
      keySources: {},
      maskFields: "gt",
      masks: [square(), square()],
    });
    const { manifest, data } = await writer.commit(header);

    expect(await leftovers(["ds"])).toEqual([]);
    expect(data).toMatchObject({
      format: "stillmotion-dataset",
      version: 1,
      channels: 3,
      modality: "endoscopy",
    });
    expect(data.videos[0].frames).toEqual([
      {
        image: "frames/still-000/000000.png",
        keyMask: "masks/still-000/000000.png",
        keySource: "synthetic",
        gtMask: "masks/still-000/000000.png",
      },
      { image: "frames/still-000/000001.png" },
      {
        image: "frames/still-000/000002.png",
        keyMask: "masks/still-000/000002.png",
        keySource: "synthetic",
        gtMask: "masks/still-000/000002.png",
      },
    ]);
    expect(data.videos[1].frames[0]).toEqual({
      image: "frames/clip/000000.png",
      gtMask: "masks/clip/000000.png",
    });
    expect((await loadManifest(out)).data).toEqual(data);
    expect(JSON.parse(await readFile(manifest, "utf8"))).toEqual(data);

    const report = execFileSync(
      process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3",
      ["-m", "stillmotion_trainer", "dataset-check", out, "--json"],
      { cwd: path.join(repoRoot(), "python-trainer"), encoding: "utf8" },
    );
    expect(JSON.parse(report.trim().split("\n").pop() as string)).toMatchObject({
      ok: true,
      videos: 2,
      frames: 5,
      keyMasks: 2,
      gtMasks: 4,
    });
    // a frame read back equals the written one at 8-bit precision
    const back = await readImage(path.join(out, "frames/still-000/000002.png"));
    expect(back.data[0]).toBeCloseTo(0.4, 2);
  });

  it("takes its channels from the frames: greyscale frames make a 1-channel dataset", async () => {
    const out = path.join(dir, "grey");
    const writer = await DatasetWriter.open(out);
    await writer.addVideo({ id: "a", fps: 1, frames: frames(1, 1) });
    const { data } = await writer.commit({ name: "g", modality: "ultrasound" });
    expect(data.channels).toBe(1);
  });

  it("refuses a video id that would name a folder outside the dataset, before writing anything", async () => {
    const writer = await DatasetWriter.open(path.join(dir, "ds"));
    const err = await writer.addVideo({ id: "../x", fps: 1, frames: frames(1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).message).toMatch(/videos\[0\] \('\.\.\/x'\)\.id: must match/);
    expect(await readdir(dir)).toHaveLength(1); // only the staging folder, and it is empty
    expect(await readdir(path.join(dir, (await readdir(dir))[0]))).toEqual([]);
    await writer.abort();
    expect(await leftovers()).toEqual([]);
  });

  it("a manifest the schema refuses (fps 0) is never published and leaves nothing behind", async () => {
    const out = path.join(dir, "ds");
    const writer = await DatasetWriter.open(out);
    await writer.addVideo({ id: "a", fps: 0, frames: frames(2) });
    const err = await writer.commit(header).catch((e: unknown) => e);
    expect((err as DatasetError).reason).toBe("invalid_manifest");
    expect((err as DatasetError).message).toMatch(/videos\[0\]\.fps/);
    expect(await leftovers()).toEqual([]);
  });

  it("frames of different sizes in one video are refused, naming the frame", async () => {
    const writer = await DatasetWriter.open(path.join(dir, "ds"));
    async function* mixed() {
      yield* frames(1, 3, 8);
      yield* frames(1, 3, 6);
    }
    const err = await writer.addVideo({ id: "a", fps: 1, frames: mixed() }).catch((e: unknown) => e);
    expect((err as DatasetError).reason).toBe("size_mismatch");
    expect((err as DatasetError).message).toMatch(/frames\[1\] is 6x6, frames\[0\] is 8x8/);
    await writer.abort();
  });

  it("replaces a dataset only with overwrite, and never a folder that holds no dataset", async () => {
    const out = path.join(dir, "ds");
    const write = async (id: string, overwrite?: boolean) => {
      const writer = await DatasetWriter.open(out, { overwrite });
      await writer.addVideo({ id, fps: 1, frames: frames(1) });
      return writer.commit(header);
    };
    await write("first");
    const refused = await write("second").catch((e: unknown) => e);
    expect((refused as DatasetError).reason).toBe("output_exists");
    await write("second", true);
    expect(await readdir(path.join(out, "frames"))).toEqual(["second"]);
    expect(await leftovers(["ds"])).toEqual([]);

    // The old inference writer replaced any folder when asked to overwrite: someone's photos too.
    const photos = path.join(dir, "photos");
    await mkdir(photos);
    await writeFile(path.join(photos, "holiday.jpg"), "not a dataset");
    const err = await DatasetWriter.open(photos, { overwrite: true }).catch((e: unknown) => e);
    expect((err as DatasetError).message).toMatch(/holds no dataset manifest/);
    expect(await readdir(photos)).toEqual(["holiday.jpg"]);
  });

  it("writeDataset (the importers' form): a failing build leaves nothing behind", async () => {
    const err = await writeDataset(path.join(dir, "ds"), false, async (stage) => {
      await writeFile(path.join(stage, "partial.png"), "x");
      throw new DatasetError("unreadable_image", "in.png", "cannot decode image");
    }).catch((e: unknown) => e);
    expect((err as DatasetError).reason).toBe("unreadable_image");
    expect(await leftovers()).toEqual([]);
  });
});
