import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as cli, makeSyntheticDataset, tempDir, trainTinyRun } from "../../test/helpers.js";
import { parseEvalReport } from "./eval-report.js";
import { evaluateArgs, runDirOfCheckpoint } from "./run-eval.js";

let dir: string;
let dataset: string;
let runDir: string;

beforeAll(() => {
  // A real (tiny) run: 3 synthetic videos of 6 frames, 16x16, two training steps.
  dir = tempDir("eval");
  dataset = makeSyntheticDataset(dir, 3, 6, 16);
  const config = {
    data: { dataset, size: 16, clip_len: 3, batch_size: 2, val_fraction: 0.34, num_workers: 0 },
    model: { preset: "tiny" },
    train: { seed: 0 },
    val: { every_n_steps: 0 },
    stop: { max_steps: 2 },
    checkpoint: { every_n_steps: 2, keep_last: 1 },
    log: { every_n_steps: 1, preview_every_n_steps: 0 },
  };
  runDir = trainTinyRun(dir, config);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("stillmotion eval", () => {
  it("evaluates a run: JSON on stdout, eval.json and a report section in the run", async () => {
    const r = await cli("eval", runDir, "--dataset", dataset, "--json");
    expect(r.code, r.err).toBe(0);
    const report = parseEvalReport(JSON.parse(r.out));
    expect(report.step).toBe(2);
    expect(report.checkpoint).toBe(join(runDir, "checkpoints", "step-00000002.pt"));
    expect(report.videos.map((v) => v.id)).toEqual(["video-000", "video-001", "video-002"]);
    expect(report.overall.scored_frames).toBe(15); // 3 videos x (6 frames - 1 key frame)
    for (const m of ["model", "copy_key", "flow"] as const) {
      const dice = report.overall.frame_weighted.masks[m].dice ?? -1;
      expect(dice).toBeGreaterThanOrEqual(0);
      expect(dice).toBeLessThanOrEqual(1);
    }
    expect(report.overall.frame_weighted.next_frame.copy_last.psnr).toBeGreaterThan(10);

    const saved = parseEvalReport(JSON.parse(readFileSync(join(runDir, "eval.json"), "utf8")));
    expect(saved.overall).toEqual(report.overall);
    const section = JSON.parse(readFileSync(join(runDir, "report-sections", "eval.json"), "utf8"));
    expect(section.charts[0].categories).toEqual([
      "video-000",
      "video-001",
      "video-002",
      "all (frame-weighted)",
    ]);
    const html = readFileSync(join(runDir, "report.html"), "utf8");
    expect(html).toContain('id="section-eval"');
    expect(html).toContain("Propagation Dice per video");
  });

  it("prints the table for a checkpoint of a run, on the run's validation split", async () => {
    const checkpoint = join(runDir, "checkpoints", "step-00000002.pt");
    const out = join(dir, "val-eval.json");
    const r = await cli(
      "eval",
      "--checkpoint",
      checkpoint,
      "--dataset",
      dataset,
      "--split",
      "val",
      "--out",
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^eval .*step-00000002\.pt \(step 2\)/);
    expect(r.out).toMatch(/split val: 1 video\(s\), 16x16, linear fusion/);
    expect(r.out).toMatch(/\nframe-weighted\s+5\s/);
    expect(r.out).toMatch(
      /Dice \(frame-weighted\): model [\d.]+ vs (flow|copy-key) [\d.]+ \(better baseline\)/,
    );
    expect(r.out).toContain(`wrote ${out}`);
    expect(JSON.parse(readFileSync(out, "utf8")).split).toBe("val");
    // the checkpoint lies in a run, so its section goes there too, unless --no-report
    expect(runDirOfCheckpoint(checkpoint)).toBe(runDir);
    expect(existsSync(join(runDir, "report-sections", "eval.json"))).toBe(true);
    rmSync(join(runDir, "report-sections"), { recursive: true, force: true });
    const again = await cli(
      "eval",
      "--checkpoint",
      checkpoint,
      "--dataset",
      dataset,
      "--out",
      out,
      "--no-report",
      "--video",
      "video-002",
      "--video",
      "video-000",
    );
    expect(again.code, again.err).toBe(0);
    expect(existsSync(join(runDir, "report-sections"))).toBe(false);
    const ids = JSON.parse(readFileSync(out, "utf8")).videos.map((v: { id: string }) => v.id);
    expect(ids).toEqual(["video-000", "video-002"]); // --video narrows, in the manifest's order
  });

  it("refuses missing inputs with the reason", async () => {
    const none = await cli("eval", "--dataset", dataset);
    expect(none.code).toBe(2);
    expect(none.err).toContain("give a run directory or --checkpoint");
    const badSplit = await cli("eval", runDir, "--dataset", dataset, "--split", "test");
    expect(badSplit.code).toBe(2);
    const missing = await cli("eval", join(dir, "nope"), "--dataset", dataset);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no such run directory");
    const badSteps = await cli("eval", runDir, "--dataset", dataset, "--adapt-steps", "-1");
    expect(badSteps.code).toBe(2);
    expect(badSteps.err).toContain("adapt steps must be an integer >= 0");
    const badSeed = await cli("eval", runDir, "--dataset", dataset, "--adapt-seed", "x");
    expect(badSeed.code).toBe(2);
    expect(badSeed.err).toContain("adapt seed must be an integer >= 0");
    expect(evaluateArgs("m.pt", { dataset, adaptSteps: 300, adaptSeed: 4 })).toEqual(
      expect.arrayContaining(["--adapt-steps", "300", "--adapt-seed", "4"]),
    );
    const unknown = await cli("eval", runDir, "--dataset", dataset, "--video", "seq9");
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/NOT_FOUND: .*: no video 'seq9'/);
    // --adapt-steps reaches the trainer, which refuses a model without a learned correction
    const noCorrection = await cli("eval", runDir, "--dataset", dataset, "--adapt-steps", "3");
    expect(noCorrection.code).toBe(1);
    expect(noCorrection.err).toMatch(
      /FAILED_PRECONDITION: .*step-00000002\.pt: --adapt-steps fits the learned correction/,
    );
  });
});
