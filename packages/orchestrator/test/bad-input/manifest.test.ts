/**
 * Bad-input suite, surface "manifest": broken dataset manifests given to `propagate` (read by the
 * TypeScript reader) and to `train` (read by the Python trainer). Each case: non-zero exit, one
 * line `stillmotion: CODE: message` naming the file or field, nothing at the output path.
 */
import { cpSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";
import { caseDir, expectFailure, runCli, useSharedFixture } from "./harness.js";

const fx = useSharedFixture();

type Manifest = { videos: Array<{ fps: number; frames: Array<Record<string, string | undefined>> }> };

/** A copy of the fixture dataset with `edit` applied to its manifest (or its files). */
function brokenDataset(name: string, edit: (manifest: Manifest, dir: string) => string | undefined): string {
  const dir = join(caseDir(fx, `manifest-${name}`), "dataset");
  cpSync(fx.dataset, dir, { recursive: true });
  const file = join(dir, "manifest.json");
  const manifest = JSON.parse(readFileSync(file, "utf8")) as Manifest;
  const text = edit(manifest, dir);
  writeFileSync(file, text ?? JSON.stringify(manifest, null, 2));
  return dir;
}

/** An edit that sets video `v`'s frame `f` image path. */
function framePath(v: number, f: number, image: string) {
  return (m: Manifest) => {
    m.videos[v].frames[f].image = image;
    return undefined;
  };
}

// [case, how the dataset is broken, expected code, what the line names]
const cases: Array<[string, (m: Manifest, dir: string) => string | undefined, string, string]> = [
  ["not JSON", () => "{ videos: [", "INVALID_ARGUMENT", "manifest.json"],
  [
    "no videos",
    (m) => {
      m.videos = [];
      return undefined;
    },
    "INVALID_ARGUMENT",
    "videos",
  ],
  ["frame path with ../", framePath(0, 1, "../outside.png"), "INVALID_ARGUMENT", "../outside.png"],
  ["absolute frame path", framePath(0, 1, "/etc/passwd"), "INVALID_ARGUMENT", "/etc/passwd"],
  [
    "missing frame file",
    (_m, dir) => {
      rmSync(join(dir, "frames", "video-001", "000002.png"));
      return undefined;
    },
    "NOT_FOUND",
    "000002.png",
  ],
  ["fps Infinity", () => undefined, "INVALID_ARGUMENT", "fps"],
  [
    "no key-frame mask",
    (m) => {
      for (const f of m.videos[1].frames) {
        delete f.keyMask;
        delete f.keySource;
      }
      return undefined;
    },
    "FAILED_PRECONDITION",
    "video-001",
  ],
  [
    "frame symlinked outside the dataset",
    (_m, dir) => {
      const frame = join(dir, "frames", "video-000", "000001.png");
      rmSync(frame);
      symlinkSync("/etc/hostname", frame);
      return undefined;
    },
    "INVALID_ARGUMENT",
    "000001.png",
  ],
];
// JSON cannot say Infinity; 1e999 parses as Infinity in both readers.
cases[5][1] = (m) => JSON.stringify(m).replace(/"fps":\s*[0-9.]+/, '"fps": 1e999');

describe("manifest: propagate", () => {
  it.concurrent.each(cases)("%s", async (name, edit, code, names) => {
    const dataset = brokenDataset(name, edit);
    const out = join(dataset, "..", "out");
    const run = await runCli(["propagate", dataset, "-m", fx.model, "-o", out, "--no-video"]);
    expectFailure(run, { code, names, absent: [out] });
  });

  it.concurrent("missing manifest", async () => {
    const dir = caseDir(fx, "manifest-missing");
    const out = join(dir, "out");
    const run = await runCli(["propagate", dir, "-m", fx.model, "-o", out]);
    expectFailure(run, { code: "NOT_FOUND", names: join(dir, "manifest.json"), absent: [out] });
  });
});

describe("manifest: train", () => {
  it("frame path with ../ is refused, and no run directory is left", async () => {
    const dataset = brokenDataset("train-dotdot", framePath(0, 1, "../outside.png"));
    const config = join(dataset, "..", "config.json");
    writeFileSync(config, JSON.stringify({ ...fx.config, data: { ...(fx.config.data as object), dataset } }));
    const runDir = join(dataset, "..", "run");
    const run = await runCli(["train", "-c", config, "--run-dir", runDir]);
    expectFailure(run, { code: "INVALID_ARGUMENT", names: "../outside.png", absent: [runDir] });
  });
});
