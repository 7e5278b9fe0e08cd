import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../repo-paths.js";
import { LesionDetector, type SegmentationSession, type SessionOpener } from "./detector.js";
import { DatasetError } from "./errors.js";
import { keyframes } from "./keyframes.js";
import { loadManifest } from "./manifest.js";

let dir: string;
let synth: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-keyframes-"));
  synth = path.join(dir, "synth");
  const args = [
    "-m",
    "stillmotion_trainer",
    "synth",
    "--out",
    synth,
    "--videos",
    "3",
    "--frames",
    "8",
    "--size",
    "24",
  ];
  execFileSync("/usr/bin/python3", args, { cwd: path.join(repoRoot(), "python-trainer") });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copy(name: string): Promise<string> {
  const to = path.join(dir, name);
  await cp(synth, to, { recursive: true });
  return to;
}

/** A detector that calls bright pixels lesion: mask = (mean over channels > 0.6). */
function fakeOpener(overrides: Partial<SegmentationSession> = {}): SessionOpener {
  return async () => ({
    inputs: [{ name: "image", shape: [1, 3, "h", "w"] }],
    outputs: [{ name: "mask", shape: [1, 1, "h", "w"] }],
    async run(feeds) {
      const { data, dims } = feeds.image;
      const plane = dims[2] * dims[3];
      const out = new Float32Array(plane);
      for (let i = 0; i < plane; i++)
        out[i] = (data[i] + data[plane + i] + data[2 * plane + i]) / 3 > 0.6 ? 1 : 0;
      return { mask: { data: out, dims: [1, 1, dims[2], dims[3]] } };
    },
    async release() {},
    ...overrides,
  });
}

describe("keyframes", () => {
  it("picks the same key frame as the Python generator's scorer", async () => {
    const m = await loadManifest(synth);
    const r = await keyframes({ dataset: synth, k: 1 });
    expect(r.videos.map((v) => v.maskSource)).toEqual(["gt", "gt", "gt"]);
    const python = m.data.videos.map((v) => v.frames.findIndex((f) => f.keyMask));
    expect(r.videos.map((v) => v.chosen[0])).toEqual(python);
  });

  it("spaces k frames and writes the choice; --assign gt rewrites key masks", async () => {
    const ds = await copy("assign");
    const r = await keyframes({ dataset: ds, k: 2, write: true, assign: "gt" });
    for (const v of r.videos) {
      expect(v.chosen).toHaveLength(2);
      expect(v.chosen[1] - v.chosen[0]).toBeGreaterThanOrEqual(2); // floor(8 / 4)
    }
    const selection = JSON.parse(await readFile(path.join(ds, "keyframes.json"), "utf8"));
    expect(selection.videos[0]).toMatchObject({
      id: "video-000",
      chosen: r.videos[0].chosen,
      maskSource: "gt",
    });
    expect(selection.videos[0].scores).toHaveLength(8);
    const m = await loadManifest(ds);
    expect(r.manifestUpdated).toBe(true);
    for (const [i, v] of m.data.videos.entries()) {
      expect(v.frames.flatMap((f, fi) => (f.keyMask ? [fi] : []))).toEqual(r.videos[i].chosen);
      expect(v.frames[r.videos[i].chosen[0]].keySource).toBe("clinician");
    }
  });

  it("tags key masks with a detector meeting the contract", async () => {
    const ds = await copy("detector");
    const model = path.join(ds, "manifest.json"); // any readable file: the fake opener ignores bytes
    const r = await keyframes({
      dataset: ds,
      k: 1,
      detector: model,
      write: true,
      assign: "detector",
      opener: fakeOpener(),
    });
    expect(r.videos.every((v) => v.maskSource === "detector")).toBe(true);
    const m = await loadManifest(ds);
    const key = m.data.videos[0].frames[r.videos[0].chosen[0]];
    expect(key).toMatchObject({ keySource: "detector", keyMask: expect.stringMatching(/\.detector\.png$/) });
  });

  it("runs a real ONNX detector through onnxruntime-node", async () => {
    const ds = await copy("real-detector");
    const modelDir = path.join(ds, "..", "real-detector-model");
    execFileSync(
      "/usr/bin/python3",
      ["-m", "stillmotion_trainer", "onnx-smoke", "--out", modelDir, "--output-name", "mask"],
      { cwd: path.join(repoRoot(), "python-trainer"), stdio: ["ignore", "pipe", "inherit"] },
    );
    const r = await keyframes({
      dataset: ds,
      k: 1,
      detector: path.join(modelDir, "tiny.onnx"),
      write: true,
      assign: "detector",
    });
    expect(r.videos.every((v) => v.maskSource === "detector")).toBe(true);
    const m = await loadManifest(ds);
    const key = m.data.videos[0].frames[r.videos[0].chosen[0]];
    expect(key).toMatchObject({ keySource: "detector", keyMask: expect.stringMatching(/\.detector\.png$/) });
  });

  it("refuses detectors that break the contract, naming what they have", async () => {
    const model = path.join(synth, "manifest.json");
    const noInput = fakeOpener({ inputs: [{ name: "input.1", shape: [1, 3, 24, 24] }] });
    await expect(LesionDetector.open(model, 3, noInput)).rejects.toThrow(
      /no input "image" \(inputs: "input.1"\)/,
    );
    const grey = fakeOpener({ inputs: [{ name: "image", shape: [1, 1, 24, 24] }] });
    await expect(LesionDetector.open(model, 3, grey)).rejects.toThrow(/channel dimension is 1/);
    const logits = fakeOpener({
      async run(feeds) {
        const [, , h, w] = feeds.image.dims;
        return { mask: { data: new Float32Array(h * w).fill(7), dims: [1, 1, h, w] } };
      },
    });
    const det = await LesionDetector.open(model, 3, logits);
    await expect(
      det.detect({ data: new Float32Array(3 * 4), channels: 3, height: 2, width: 2 }),
    ).rejects.toThrow(/sigmoid/);
    await expect(LesionDetector.open(path.join(dir, "missing.onnx"), 3, logits)).rejects.toThrow(/not found/);
  });

  it("--protocol every:N / first assigns keys by position, with gt masks, as --assign gt does", async () => {
    const ds = await copy("protocol");
    const every = await keyframes({ dataset: ds, protocol: "every:3", write: true, assign: "gt" });
    expect(every).toMatchObject({ k: null, protocol: "every:3", manifestUpdated: true });
    expect(every.videos.map((v) => v.chosen)).toEqual([
      [0, 3, 6],
      [0, 3, 6],
      [0, 3, 6],
    ]);
    let m = await loadManifest(ds);
    for (const v of m.data.videos) {
      expect(v.frames.flatMap((f, fi) => (f.keyMask ? [fi] : []))).toEqual([0, 3, 6]);
      expect(v.frames[3]).toMatchObject({ keyMask: v.frames[3].gtMask, keySource: "clinician" });
    }
    const selection = JSON.parse(await readFile(path.join(ds, "keyframes.json"), "utf8"));
    expect(selection).toMatchObject({ k: null, protocol: "every:3" });
    expect(selection.videos[0]).toMatchObject({ chosen: [0, 3, 6], minGap: null, scores: [] });

    // the first masked frame, once frames 0-1 of video 0 lose their evaluation masks
    const raw = JSON.parse(await readFile(path.join(ds, "manifest.json"), "utf8"));
    for (const f of raw.videos[0].frames.slice(0, 2)) delete f.gtMask;
    await writeFile(path.join(ds, "manifest.json"), JSON.stringify(raw));
    const first = await keyframes({ dataset: ds, protocol: "first", write: true, assign: "gt" });
    expect(first.videos.map((v) => v.chosen)).toEqual([[2], [0], [0]]);
    m = await loadManifest(ds);
    expect(m.data.videos[0].frames.flatMap((f, fi) => (f.keyMask ? [fi] : []))).toEqual([2]);
  });

  it("--protocol refuses score options, detectors and videos without evaluation masks", async () => {
    await expect(keyframes({ dataset: synth, protocol: "every:0" })).rejects.toThrow(
      /allowed: first, every:N/,
    );
    await expect(keyframes({ dataset: synth, protocol: "first", k: 2 })).rejects.toThrow(
      /--k: cannot be combined with --protocol/,
    );
    await expect(
      keyframes({ dataset: synth, protocol: "first", write: true, assign: "detector" }),
    ).rejects.toThrow(/detector cannot be combined with --protocol/);
    const ds = await copy("protocol-no-gt");
    const raw = JSON.parse(await readFile(path.join(ds, "manifest.json"), "utf8"));
    for (const f of raw.videos[1].frames) delete f.gtMask;
    await writeFile(path.join(ds, "manifest.json"), JSON.stringify(raw));
    const e = await keyframes({ dataset: ds, protocol: "first" }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as DatasetError).reason).toBe("no_key_frame");
    expect((e as DatasetError).detail).toContain("video 'video-001': no frame has a gtMask");
  });

  it("checks its options", async () => {
    await expect(keyframes({ dataset: synth, k: 0 })).rejects.toThrow(DatasetError);
    await expect(keyframes({ dataset: synth, assign: "gt" })).rejects.toThrow(/needs --write/);
    await expect(keyframes({ dataset: synth, write: true, assign: "detector" })).rejects.toThrow(
      /--detector/,
    );
    await expect(keyframes({ dataset: synth, k: 2, minGap: 8 })).rejects.toThrow(/at least 8 apart/);
  });
});
