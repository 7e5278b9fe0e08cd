import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as cli } from "../../../test/helpers.js";
import { writePng } from "../../dataset/images.js";
import { repoRoot } from "../../repo-paths.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-cli-dataset-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("stillmotion dataset / keyframes / calibrate", () => {
  it("imports frames, checks, describes, picks key frames and calibrates", async () => {
    for (let t = 0; t < 6; t++) {
      const data = new Uint8Array(16 * 12 * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + t * 13) % 256;
      await writePng(path.join(dir, `in/f${t}.png`), { data, width: 16, height: 12, channels: 3 });
    }
    const mask = new Uint8Array(16 * 12).fill(255, 40, 90);
    await writePng(path.join(dir, "masks/f2.png"), { data: mask, width: 16, height: 12, channels: 1 });
    const ds = path.join(dir, "ds");
    const imported = await cli(
      "dataset",
      "import",
      "frames",
      path.join(dir, "in"),
      "--masks",
      path.join(dir, "masks"),
      "--out",
      ds,
      "--json",
    );
    expect(imported.code, imported.err).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({ videos: 1, frames: 6, keyMasks: 1 });

    const checked = await cli("dataset", "check", ds);
    expect(checked.out).toContain("ok: 1 video(s), 6 frame(s)");

    const stats = await cli("dataset", "stats", ds, "--json");
    expect(JSON.parse(stats.out)).toMatchObject({
      frames: 6,
      keyMasks: 1,
      consecutive: { count: 5 },
      toKey: { count: 5 },
    });

    const keys = await cli("keyframes", ds, "--k", "2", "--write");
    expect(keys.code, keys.err).toBe(0);
    expect(keys.out).toMatch(/^in: \d \(score/);
    expect(keys.out).toContain("keyframes.json");

    const cal = await cli("calibrate", ds);
    expect(cal.code, cal.err).toBe(0);
    expect(cal.out).toMatch(/suggested: gamma1 = [\d.]+, gamma2 = [\d.]+/);
    expect(cal.out).toContain("No cross-video pairs");
  });

  it("imports a folder of clips and assigns keys by protocol", async () => {
    for (const clip of ["seq1", "seq2"]) {
      for (let t = 0; t < 5; t++) {
        const data = new Uint8Array(8 * 6 * 3).fill(t * 40);
        await writePng(path.join(dir, `clips/${clip}/frames/${t}.png`), {
          data,
          width: 8,
          height: 6,
          channels: 3,
        });
        if (t === 0 && clip === "seq2") continue; // target not visible: no mask
        const mask = new Uint8Array(8 * 6).fill(255, 0, 10);
        await writePng(path.join(dir, `clips/${clip}/masks/${t}.png`), {
          data: mask,
          width: 8,
          height: 6,
          channels: 1,
        });
      }
    }
    const ds = path.join(dir, "clips-ds");
    const imported = await cli(
      "dataset",
      "import",
      "clips",
      path.join(dir, "clips"),
      "--out",
      ds,
      "--fps",
      "5",
      "--json",
    );
    expect(imported.code, imported.err).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({ videos: 2, frames: 10, keyMasks: 0, gtMasks: 9 });

    const keys = await cli("keyframes", ds, "--protocol", "every:2", "--write", "--assign", "gt");
    expect(keys.code, keys.err).toBe(0);
    expect(keys.out).toContain("seq1: 0, 2, 4  [5 frames, protocol every:2]");
    expect(keys.out).toContain("seq2: 2, 4  [5 frames, protocol every:2]");

    const bad = await cli("keyframes", ds, "--protocol", "every:x");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^stillmotion: INVALID_ARGUMENT: --protocol: unknown protocol "every:x"/);
  });

  it("calibrates a synthetic dataset from the Python generator", async () => {
    const synth = path.join(dir, "synth");
    const args = [
      "-m",
      "stillmotion_trainer",
      "synth",
      "--out",
      synth,
      "--videos",
      "3",
      "--frames",
      "5",
      "--size",
      "16",
    ];
    execFileSync("/usr/bin/python3", args, { cwd: path.join(repoRoot(), "python-trainer") });
    const cal = await cli("calibrate", synth, "--json");
    const parsed = JSON.parse(cal.out);
    expect(parsed.gamma1).toBeGreaterThan(0);
    expect(parsed.reasoning.length).toBeGreaterThanOrEqual(3);
  });

  it("reports bad input with the file and a non-zero exit code, never a crash", async () => {
    const bad = path.join(dir, "bad");
    await writePng(path.join(bad, "f/0.png"), { data: new Uint8Array(12), width: 2, height: 2, channels: 3 });
    await writeFile(
      path.join(bad, "manifest.json"),
      JSON.stringify({
        format: "stillmotion-dataset",
        version: 1,
        name: "bad",
        modality: "endoscopy",
        channels: 3,
        videos: [{ id: "v", fps: 1, width: 2, height: 2, frames: [{ image: "/etc/passwd.png" }] }],
      }),
    );
    for (const args of [
      ["dataset", "check", bad],
      ["dataset", "stats", bad],
      ["keyframes", bad],
      ["calibrate", bad],
    ]) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.out + r.err).toContain(`${path.join(bad, "manifest.json")}: videos[0].frames[0].image`);
    }
    const missing = await cli(
      "dataset",
      "import",
      "video",
      path.join(dir, "none.mp4"),
      "--out",
      path.join(dir, "v"),
    );
    expect([missing.code, missing.err]).toEqual([
      1,
      expect.stringContaining("none.mp4: video file not found"),
    ]);
  });
});
