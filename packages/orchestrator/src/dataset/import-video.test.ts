import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { writePng } from "./images.js";
import { importVideo } from "./import-video.js";
import { loadManifest } from "./manifest.js";

let dir: string;
let video: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-video-"));
  video = path.join(dir, "exam 1.avi");
  // 2 s of ffmpeg's test pattern at 10 fps, 32x24, lossless enough for a size check
  execFileSync("/usr/bin/ffmpeg", [
    ...["-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10", "-t", "2"],
    ...["-c:v", "mjpeg", "-q:v", "3", video],
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

describe("importVideo", () => {
  it("extracts every frame at the file's own rate", async () => {
    const out = path.join(dir, "all");
    const r = await importVideo({ file: video, out });
    expect(r).toMatchObject({ videos: 1, frames: 20 });
    const m = await loadManifest(out);
    expect(m.data.videos[0]).toMatchObject({ id: "exam-1", fps: 10, width: 32, height: 24 });
    expect(m.data.videos[0].frames[0].image).toBe("frames/exam-1/000000.png");
    expect((await checkDataset(m)).ok).toBe(true);
  });

  it("resamples and cuts a range, with key masks by frame index, greyscale", async () => {
    const masks = path.join(dir, "masks");
    const mask = { data: new Uint8Array(32 * 24).fill(255, 0, 100), width: 32, height: 24, channels: 1 };
    await writePng(path.join(masks, "3.png"), mask);
    const out = path.join(dir, "cut");
    const r = await importVideo({
      file: video,
      out,
      fps: 5,
      start: 0.4,
      end: 1.4,
      masks,
      modality: "ultrasound",
    });
    expect(r).toMatchObject({ frames: 5, keyMasks: 1 });
    const m = await loadManifest(out);
    expect(m.data).toMatchObject({ channels: 1, source: { start: 0.4, end: 1.4, resampledFps: 5 } });
    expect(m.data.videos[0].fps).toBe(5);
    expect(m.data.videos[0].frames[3].keyMask).toBe("masks/exam-1/000003.png");
    expect((await checkDataset(m)).ok).toBe(true);
  });

  it("names the problem: missing file, not a video, empty range, bad options, mask index", async () => {
    const out = path.join(dir, "bad");
    expect((await rejection(importVideo({ file: path.join(dir, "nope.mp4"), out }))).reason).toBe(
      "missing_file",
    );
    const junk = path.join(dir, "junk.mp4");
    await writeFile(junk, "this is not a video");
    const e = await rejection(importVideo({ file: junk, out }));
    expect([e.reason, e.file]).toEqual(["unsupported_input", junk]);
    expect((await rejection(importVideo({ file: video, out, start: 50, end: 60 }))).reason).toBe(
      "empty_video",
    );
    expect((await rejection(importVideo({ file: video, out, start: 1, end: 0.5 }))).message).toContain(
      "--end",
    );
    const masks = path.join(dir, "badmasks");
    await writePng(path.join(masks, "99.png"), {
      data: new Uint8Array(32 * 24),
      width: 32,
      height: 24,
      channels: 1,
    });
    expect((await rejection(importVideo({ file: video, out, masks }))).reason).toBe("unmatched_file");
    const missingTool = await rejection(importVideo({ file: video, out, ffmpeg: "/nonexistent/ffmpeg" }));
    expect([missingTool.reason, missingTool.message]).toEqual([
      "tool_failed",
      expect.stringContaining("not found"),
    ]);
  });
});
