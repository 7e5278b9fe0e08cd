import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import {
  listPreviewFiles,
  previewsDir,
  readPreview,
  readRecentPreviews,
  savePreview,
  toStoredPreview,
} from "./preview-store.js";

function tensors(step: number, n = 2, c = 3, h = 4, w = 5) {
  const images = Uint8Array.from({ length: n * c * h * w }, (_, i) => (i * 7 + step) % 256);
  const masks = Uint8Array.from({ length: n * h * w }, (_, i) => (i % 2 ? 255 : 0));
  return { step, imageShape: [n, c, h, w], maskShape: [n, 1, h, w], images, masks };
}

describe("preview store", () => {
  it("round-trips a preview byte for byte through run_dir/previews/step-XXXXXXXX.json", () => {
    const runDir = tempDir("previews");
    const t = tensors(5);
    const path = savePreview(runDir, toStoredPreview(t, 123.5));
    expect(path).toBe(join(previewsDir(runDir), "step-00000005.json"));
    const back = readPreview(path);
    expect(back).toMatchObject({ step: 5, time: 123.5, imageShape: [2, 3, 4, 5], maskShape: [2, 1, 4, 5] });
    expect(Buffer.from(back.images, "base64")).toEqual(Buffer.from(t.images));
    expect(Buffer.from(back.masks, "base64")).toEqual(Buffer.from(t.masks));
    // atomic write: no temp file left behind
    expect(readdirSync(previewsDir(runDir))).toEqual(["step-00000005.json"]);
  });

  it("keeps only the newest previews, and reads them oldest first", () => {
    const runDir = tempDir("previews-prune");
    for (let step = 10; step <= 100; step += 10) savePreview(runDir, toStoredPreview(tensors(step)), 4);
    expect(listPreviewFiles(runDir).map((p) => p.slice(-18))).toEqual([
      "step-00000070.json",
      "step-00000080.json",
      "step-00000090.json",
      "step-00000100.json",
    ]);
    expect(readRecentPreviews(runDir, 3).map((p) => p.step)).toEqual([80, 90, 100]);
    // a byte budget smaller than one preview still returns the newest one
    expect(readRecentPreviews(runDir, 20, 1).map((p) => p.step)).toEqual([100]);
  });

  it("refuses shapes that do not match the bytes, naming the field", () => {
    expect(() => toStoredPreview({ ...tensors(1), imageShape: [2, 3, 4] })).toThrow(
      /imageShape: must be 4 positive/,
    );
    expect(() => toStoredPreview({ ...tensors(1), imageShape: [2, 2, 4, 5] })).toThrow(
      /channels must be 1 or 3, got 2/,
    );
    expect(() => toStoredPreview({ ...tensors(1), maskShape: [2, 1, 4, 4] })).toThrow(
      /maskShape: must be \[2, 1, 4, 5\]/,
    );
    expect(() => toStoredPreview({ ...tensors(1), masks: new Uint8Array(3) })).toThrow(
      /masks: holds 3 bytes, shape needs 40/,
    );
  });

  it("names the file of a damaged preview", () => {
    const runDir = tempDir("previews-bad");
    const path = savePreview(runDir, toStoredPreview(tensors(3)));
    writeFileSync(
      path,
      '{"step": 3, "imageShape": [1, 3, 2, 2], "maskShape": [1, 1, 2, 2], "images": "AAAA", "masks": "AAAA"}',
    );
    expect(() => readPreview(path)).toThrow(new RegExp(`${path}: images: holds 3 bytes, shape needs 12`));
    writeFileSync(path, "{not json");
    expect(() => readPreview(path)).toThrow(/not a readable preview JSON file/);
    expect(existsSync(path)).toBe(true);
  });
});
