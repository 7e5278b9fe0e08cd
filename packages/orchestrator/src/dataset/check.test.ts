import { execFileSync } from "node:child_process";
import { mkdtemp, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { repoRoot } from "../repo-paths.js";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { loadFrame, loadMask, writePng } from "./images.js";
import { loadManifest } from "./manifest.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "sm-check-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const grey = (w: number, h: number, v: number) => ({
  data: new Uint8Array(w * h).fill(v),
  width: w,
  height: h,
  channels: 1,
});
const rgb = (w: number, h: number, v: number) => ({
  data: new Uint8Array(w * h * 3).fill(v),
  width: w,
  height: h,
  channels: 3,
});

/** Two 8x8 RGB frames; frame 0's mask is its key and evaluation mask. */
async function tiny(): Promise<void> {
  await writePng(path.join(root, "f/0.png"), rgb(8, 8, 100));
  await writePng(path.join(root, "f/1.png"), rgb(8, 8, 100));
  const m = grey(8, 8, 0);
  m.data.fill(255, 0, 24);
  await writePng(path.join(root, "f/m0.png"), m);
  const manifest = {
    format: "stillmotion-dataset",
    version: 1,
    name: "t",
    modality: "endoscopy",
    channels: 3,
    videos: [
      {
        id: "v",
        fps: 30,
        width: 8,
        height: 8,
        frames: [{ image: "f/0.png", keyMask: "f/m0.png", gtMask: "f/m0.png" }, { image: "f/1.png" }],
      },
    ],
  };
  await writeFile(path.join(root, "manifest.json"), JSON.stringify(manifest));
}

async function reasons(): Promise<string[]> {
  return (await checkDataset(root)).errors.map((e) => e.reason).sort();
}

describe("checkDataset", () => {
  it("passes a clean dataset and counts it", async () => {
    await tiny();
    const r = await checkDataset(root);
    expect(r).toMatchObject({ ok: true, videos: 1, frames: 2, keyMasks: 1, gtMasks: 1 });
  });

  it("names a corrupt image", async () => {
    await tiny();
    await writeFile(path.join(root, "f/1.png"), Buffer.from("\x89PNG\r\n\x1a\n truncated"));
    const r = await checkDataset(root);
    expect(r.errors.map((e) => [e.reason, e.file])).toEqual([
      ["unreadable_image", path.join(root, "f/1.png")],
    ]);
  });

  it("names a truncated PNG whose header still reads", async () => {
    await tiny();
    const { readFile } = await import("node:fs/promises");
    const full = await readFile(path.join(root, "f/0.png"));
    await writeFile(path.join(root, "f/0.png"), full.subarray(0, full.length - 20));
    expect(await reasons()).toEqual(["unreadable_image"]);
  });

  it("finds a mask whose size differs from its frame", async () => {
    await tiny();
    await writePng(path.join(root, "f/m0.png"), grey(8, 6, 0));
    const r = await checkDataset(root);
    expect(r.errors.map((e) => e.reason)).toEqual(["size_mismatch", "size_mismatch"]);
    expect(r.errors[0].message).toContain("8x6");
  });

  it("finds a frame whose size differs from the declared one", async () => {
    await tiny();
    await writePng(path.join(root, "f/1.png"), rgb(8, 9, 0));
    expect(await reasons()).toEqual(["size_mismatch"]);
  });

  it("finds non-binary and 0/1 masks", async () => {
    await tiny();
    await writePng(path.join(root, "f/m0.png"), grey(8, 8, 128));
    expect(await reasons()).toEqual(["mask_not_binary", "mask_not_binary"]);
    await expect(loadMask(path.join(root, "f/m0.png"))).rejects.toThrow(/not binary/);
    const zeroOne = grey(8, 8, 0);
    zeroOne.data.fill(1, 0, 10);
    await writePng(path.join(root, "f/m0.png"), zeroOne);
    await expect(loadMask(path.join(root, "f/m0.png"))).rejects.toThrow(/0\/1/);
  });

  it("finds wrong channels for frames and masks", async () => {
    await tiny();
    await writePng(path.join(root, "f/1.png"), grey(8, 8, 0));
    await writePng(path.join(root, "f/m0.png"), rgb(8, 8, 0));
    expect(await reasons()).toEqual(["wrong_channels", "wrong_channels", "wrong_channels"]);
  });

  it("reports a bad manifest as its only error", async () => {
    await writeFile(path.join(root, "manifest.json"), "[]");
    const r = await checkDataset(root);
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toBeInstanceOf(DatasetError);
    expect(r.errors[0].reason).toBe("invalid_manifest");
  });

  it("refuses frames and masks that a symlink takes outside the dataset folder", async () => {
    await tiny();
    const outside = await mkdtemp(path.join(tmpdir(), "sm-outside-"));
    try {
      await writePng(path.join(outside, "secret.png"), rgb(8, 8, 7));
      await unlink(path.join(root, "f/1.png"));
      await symlink(path.join(outside, "secret.png"), path.join(root, "f/1.png"));
      const r = await checkDataset(root);
      expect(r.errors.map((e) => [e.reason, e.file])).toEqual([["unsafe_path", path.join(root, "f/1.png")]]);
      expect(r.errors[0].message).toMatch(/resolves to .*secret\.png, outside the dataset folder/);
      await expect(loadManifest(root)).rejects.toMatchObject({ reason: "unsafe_path" });

      // Already loaded, then a mask swapped for a link: the check reports every use of it.
      await unlink(path.join(root, "f/1.png"));
      await writePng(path.join(root, "f/1.png"), rgb(8, 8, 100));
      const manifest = await loadManifest(root);
      await unlink(path.join(root, "f/m0.png"));
      await symlink(path.join(outside, "secret.png"), path.join(root, "f/m0.png"));
      expect((await checkDataset(manifest)).errors.map((e) => e.reason)).toEqual([
        "unsafe_path",
        "unsafe_path",
      ]);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("accepts symlinks that stay inside the dataset folder", async () => {
    await tiny();
    await unlink(path.join(root, "f/1.png"));
    await symlink("0.png", path.join(root, "f/1.png"));
    expect((await checkDataset(root)).ok).toBe(true);
  });

  it("loads frames planar in 0..1 and masks in {0,1}", async () => {
    await tiny();
    const f = await loadFrame(path.join(root, "f/0.png"), 3);
    expect([f.channels, f.height, f.width]).toEqual([3, 8, 8]);
    expect(f.data[0]).toBeCloseTo(100 / 255, 6);
    const m = await loadMask(path.join(root, "f/m0.png"));
    expect(m.data.reduce((a, b) => a + b, 0)).toBe(24);
  });
});

describe("the same format on both sides", () => {
  it("accepts what the Python synthetic generator writes", async () => {
    const out = path.join(root, "synth");
    const args = ["-m", "stillmotion_trainer", "synth", "--kind", "ultrasound", "--out", out];
    execFileSync("/usr/bin/python3", [...args, "--videos", "1", "--frames", "3", "--size", "16"], {
      cwd: path.join(repoRoot(), "python-trainer"),
    });
    const m = await loadManifest(out);
    expect(m.data.channels).toBe(1);
    const r = await checkDataset(m);
    expect(r.errors).toEqual([]);
    expect(r.gtMasks).toBe(3);
  });
});
