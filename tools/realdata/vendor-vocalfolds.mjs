#!/usr/bin/env node
/**
 * Rebuilds data/real/vocalfolds-seq8-128/, the real clip CI benchmarks on (data/real/README.md):
 * vocalfolds seq8 downscaled to 128x128 (frames Lanczos, JPEG q90; masks nearest, 0/255), then
 * imported by the project's own `stillmotion dataset import clips` (the built CLI), so the
 * vendored dataset is exactly what a user's import of the same clip gives. Only the manifest's
 * `source` is rewritten afterwards: a temporary folder is no provenance.
 *
 * Usage: node tools/realdata/vendor-vocalfolds.mjs --data /work/shared/realdata/vocalfolds
 *          [--seq seq8] [--size 128] [--out data/real/vocalfolds-seq8-128]
 * Needs `npm run build` first (packages/orchestrator/dist/bin.js).
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import sharp from "sharp";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(root, "packages/orchestrator/dist/bin.js");
const JPEG_QUALITY = 90;

const { values: opts } = parseArgs({
  options: {
    data: { type: "string" },
    seq: { type: "string", default: "seq8" },
    size: { type: "string", default: "128" },
    out: { type: "string" },
  },
});

function fail(message) {
  process.stderr.write(`vendor-vocalfolds: ${message}\n`);
  process.exit(2);
}

if (!opts.data) fail("--data <vocalfolds folder> is required (it holds seq1..seq8 and ../stats.json)");
const size = Number(opts.size);
if (!Number.isInteger(size) || size < 8) fail(`--size must be an integer >= 8, got "${opts.size}"`);
const clip = join(resolve(opts.data), opts.seq);
if (!existsSync(join(clip, "frames"))) fail(`${clip}/frames: not found`);
if (!existsSync(CLI)) fail(`${CLI}: not built; run npm run build`);
const out = resolve(opts.out ?? join(root, "data/real", `vocalfolds-${opts.seq}-${size}`));

// The source commit, from the stats the real-data folder was rebuilt with.
const statsFile = join(resolve(opts.data), "..", "stats.json");
const stats = existsSync(statsFile) ? JSON.parse(readFileSync(statsFile, "utf8")).vocalfolds : undefined;

const work = mkdtempSync(join(tmpdir(), "sm-vendor-vocalfolds-"));
try {
  const staged = join(work, "clips", opts.seq);
  mkdirSync(join(staged, "frames"), { recursive: true });
  mkdirSync(join(staged, "masks"), { recursive: true });
  const frames = readdirSync(join(clip, "frames")).filter((n) => n.endsWith(".jpg"));
  for (const name of frames) {
    await sharp(join(clip, "frames", name))
      .resize(size, size, { kernel: "lanczos3" })
      // mozjpeg: same quality, 11% fewer bytes in the repository
      .jpeg({ quality: JPEG_QUALITY, mozjpeg: true })
      .toFile(join(staged, "frames", name));
  }
  const masks = existsSync(join(clip, "masks")) ? readdirSync(join(clip, "masks")) : [];
  for (const name of masks.filter((n) => n.endsWith(".png"))) {
    // nearest keeps the mask binary: no grey edge for the importer to threshold
    await sharp(join(clip, "masks", name))
      .greyscale()
      .resize(size, size, { kernel: "nearest" })
      .png()
      .toFile(join(staged, "masks", name));
  }
  execFileSync(
    process.execPath,
    [CLI, "dataset", "import", "clips", join(work, "clips"), "--out", out, "--overwrite", "--fps", "25"],
    { stdio: "inherit" },
  );
  const manifestFile = join(out, "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
  manifest.name = `vocalfolds-${opts.seq}-${size}`;
  manifest.description =
    `vocalfolds ${opts.seq} (Laves et al. 2019, CC BY 4.0), ${size}x${size}; gtMask = glottal space ` +
    "where visible, no key masks (data/real/README.md)";
  manifest.source = {
    tool: "tools/realdata/vendor-vocalfolds.mjs, then stillmotion dataset import clips",
    repository: stats?.source ?? "imesluh/vocalfolds",
    commit: stats?.commit ?? null,
    clip: opts.seq,
    licence: "CC BY 4.0",
    changes: `downscaled to ${size}x${size} (frames Lanczos, JPEG q${JPEG_QUALITY}; masks nearest, 0/255)`,
  };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  execFileSync(process.execPath, [CLI, "dataset", "check", out], { stdio: "inherit" });
} finally {
  rmSync(work, { recursive: true, force: true });
}
