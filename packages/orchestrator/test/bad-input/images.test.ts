/**
 * Bad-input suite, surface "images": stills and frames that do not decode, given to `generate`
 * and `propagate`. Each case: non-zero exit, one line `stillmotion: CODE: message` naming the
 * image, nothing at the output path (before the fix a truncated still left clips/s0, clips/s1).
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { describe, it } from "vitest";
import { caseDir, expectFailure, runCli, useSharedFixture } from "./harness.js";

const fx = useSharedFixture();

/** Stills folder: the fixture's good stills first (so some clips get written), then `bad`. */
async function stillsWith(name: string, bad: (dir: string) => Promise<string>): Promise<[string, string]> {
  const dir = join(caseDir(fx, `images-${name}`), "stills");
  mkdirSync(dir);
  for (const f of readdirSync(fx.stills)) copyFileSync(join(fx.stills, f), join(dir, f));
  return [dir, await bad(dir)];
}

const goodPng = () => readFileSync(join(fx.stills, "still-000.png"));

// [case, writes the bad image and returns the path the line must name, expected code]
const stills: Array<[string, (dir: string) => Promise<string>, string]> = [
  [
    "truncated PNG",
    async (dir) => {
      const png = goodPng();
      writeFileSync(join(dir, "z-truncated.png"), png.subarray(0, png.length >> 1));
      return join(dir, "z-truncated.png");
    },
    "INVALID_ARGUMENT",
  ],
  [
    "empty file",
    async (dir) => {
      writeFileSync(join(dir, "z-empty.png"), "");
      return join(dir, "z-empty.png");
    },
    "INVALID_ARGUMENT",
  ],
  [
    "text with an image extension",
    async (dir) => {
      writeFileSync(join(dir, "z-text.jpg"), "this is not a JPEG\n");
      return join(dir, "z-text.jpg");
    },
    "INVALID_ARGUMENT",
  ],
  [
    "mask of another size",
    async (dir) => {
      const images = join(dir, "images");
      const masks = join(dir, "masks");
      mkdirSync(images);
      mkdirSync(masks);
      copyFileSync(join(fx.stills, "still-000.png"), join(images, "a.png"));
      await sharp({ create: { width: 40, height: 8, channels: 3, background: { r: 255, g: 255, b: 255 } } })
        .png()
        .toFile(join(masks, "a.png"));
      return join(masks, "a.png");
    },
    "INVALID_ARGUMENT",
  ],
];

describe("images: generate", () => {
  it.concurrent.each(stills)("%s", async (name, bad, code) => {
    const [dir, names] = await stillsWith(name, bad);
    const out = join(dir, "..", "out");
    const run = await runCli(["generate", dir, "-m", fx.model, "-o", out, "--steps", "2"]);
    expectFailure(run, { code, names, absent: [out] });
  });

  it.concurrent("a folder without images", async () => {
    const dir = join(caseDir(fx, "images-none"), "stills");
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "no images here\n");
    const out = join(dir, "..", "out");
    const run = await runCli(["generate", dir, "-m", fx.model, "-o", out]);
    expectFailure(run, { code: "INVALID_ARGUMENT", names: dir, absent: [out] });
  });
});

describe("images: propagate", () => {
  it.concurrent("a truncated frame in the second video", async () => {
    const dataset = join(caseDir(fx, "images-frame"), "dataset");
    cpSync(fx.dataset, dataset, { recursive: true });
    const frame = join(dataset, "frames", "video-001", "000003.png");
    const png = readFileSync(frame);
    writeFileSync(frame, png.subarray(0, png.length >> 1));
    const out = join(dataset, "..", "out");
    const run = await runCli(["propagate", dataset, "-m", fx.model, "-o", out, "--no-video"]);
    expectFailure(run, { code: "INVALID_ARGUMENT", names: frame, absent: [out] });
  });
});
