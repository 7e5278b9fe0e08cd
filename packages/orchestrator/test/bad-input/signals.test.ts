/**
 * Bad-input suite, surface "signals": SIGINT, SIGTERM and SIGKILL to the CLI while it writes.
 * INT/TERM: exit 128 + signal, one line `stillmotion: CANCELLED: ...` naming the output, nothing
 * at the output path, no staging or temporary file beside it. KILL (no handler can run): the
 * Python exporter dies with the CLI and never writes the .onnx afterwards (issue N8).
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  alive,
  CASE_TIMEOUT_MS,
  caseDir,
  childPids,
  expectFailure,
  FIXTURE_TIMEOUT_MS,
  type Fixture,
  leftovers,
  runCli,
  sharedFixture,
  synth,
  waitFor,
} from "./harness.js";

// Each case starts the CLI (and some the trainer): minutes on a loaded 2-core machine.
vi.setConfig({ testTimeout: CASE_TIMEOUT_MS });

let fx: Fixture;
/** Long enough inputs that a signal lands mid-write: 3 videos x 150 frames, 8 stills. */
let longDataset: string;
let manyStills: string;
beforeAll(async () => {
  fx = await sharedFixture();
  const dir = caseDir(fx, "signals-inputs");
  longDataset = synth(join(dir, "long"), 3, 150);
  manyStills = join(dir, "stills");
  mkdirSync(manyStills);
  for (let i = 0; i < 8; i++) copyFileSync(join(fx.stills, "still-000.png"), join(manyStills, `s${i}.png`));
}, FIXTURE_TIMEOUT_MS);

const EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

describe("signals: export", () => {
  it.each(["SIGINT", "SIGTERM"] as const)("%s mid-export", async (signal) => {
    const dir = caseDir(fx, `signal-export-${signal}`);
    const out = join(dir, "generator.onnx");
    let exporter = 0;
    const run = await runCli(["export", fx.runDir, "--out", out], {
      onSpawn: (cli) => {
        void waitFor(() => childPids(cli.pid ?? 0).length > 0, 60_000, "the exporter")
          .then(() => {
            exporter = childPids(cli.pid ?? 0)[0];
            // A tiny model exports in well under a second once torch is loaded, too fast to catch
            // reliably mid-write: signal while the exporter starts (imports, checkpoint loading).
            return new Promise((r) => setTimeout(r, 300));
          })
          .then(() => cli.kill(signal));
      },
    });
    expectFailure(run, { code: "CANCELLED", names: out, absent: [out] });
    expect(run.code).toBe(EXIT[signal]);
    expect(alive(exporter)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it("SIGKILL: the exporter dies with the CLI and writes nothing afterwards", async () => {
    const dir = caseDir(fx, "signal-export-SIGKILL");
    const out = join(dir, "generator.onnx");
    let exporter = 0;
    const run = await runCli(["export", fx.runDir, "--out", out], {
      onSpawn: (cli) => {
        void waitFor(() => childPids(cli.pid ?? 0).length > 0, 60_000, "the exporter")
          .then(() => {
            exporter = childPids(cli.pid ?? 0)[0];
            return new Promise((r) => setTimeout(r, 300));
          })
          .then(() => cli.kill("SIGKILL"));
      },
    });
    expect(run.signal).toBe("SIGKILL");
    await waitFor(() => !alive(exporter), 60_000, "the orphaned exporter to exit");
    await new Promise((r) => setTimeout(r, 1000));
    expect(existsSync(out)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe("signals: propagate and generate", () => {
  it("SIGINT during propagate: no partial video folder", async () => {
    const dir = caseDir(fx, "signal-propagate");
    const out = join(dir, "out");
    const run = await runCli(["propagate", longDataset, "-m", fx.model, "-o", out], {
      onSpawn: (cli, output) => {
        void waitFor(() => /propagate 1\//.test(output.stderr()), 120_000, "the first video").then(() =>
          cli.kill("SIGINT"),
        );
      },
    });
    expectFailure(run, { code: "CANCELLED", names: out, absent: [out] });
    expect(run.code).toBe(EXIT.SIGINT);
    expect(leftovers(dir)).toEqual([]);
  });

  it("SIGTERM during generate: no partial clips", async () => {
    const dir = caseDir(fx, "signal-generate");
    const out = join(dir, "out");
    const run = await runCli(["generate", manyStills, "-m", fx.model, "-o", out, "--steps", "48"], {
      onSpawn: (cli, output) => {
        void waitFor(() => /generate 1\//.test(output.stderr()), 120_000, "the first clip").then(() =>
          cli.kill("SIGTERM"),
        );
      },
    });
    expectFailure(run, { code: "CANCELLED", names: out, absent: [out] });
    expect(run.code).toBe(EXIT.SIGTERM);
    expect(leftovers(dir)).toEqual([]);
  });
});
