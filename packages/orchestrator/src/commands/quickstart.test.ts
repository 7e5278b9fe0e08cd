/**
 * The README's main job end to end, shrunk (32x32 frames, a few seconds of training): every
 * stage runs for real (synth, trainer over gRPC/ZeroMQ, ONNX export, onnxruntime-node
 * generation and propagation, evaluation with both baselines, the HTML report) and leaves its
 * files. Keeps `npm run quickstart` working at every commit.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadGenerator, propagateMasks } from "@stillmotion/inference";
import { describe, expect, it, vi } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { exportRun } from "./export.js";
import { quickstart } from "./quickstart.js";

describe("stillmotion quickstart", () => {
  it("trains, exports, generates, propagates, evaluates and reports, on small settings", async () => {
    const out = join(tempDir("quickstart"), "qs");
    const quiet = [
      vi.spyOn(console, "log").mockImplementation(() => undefined),
      vi.spyOn(process.stderr, "write").mockImplementation(() => true),
    ];
    let summary: Awaited<ReturnType<typeof quickstart>>;
    try {
      summary = await quickstart({ out, minutes: 0.1, size: 32 });
    } finally {
      for (const spy of quiet) spy.mockRestore();
    }
    expect(summary.trained.reason).toBe("time_budget");
    expect(summary.trained.step).toBeGreaterThan(0);
    const evalFile = String(summary.eval);
    for (const file of [summary.model, summary.report, evalFile, String(summary.evalUnseenMotion)]) {
      expect(existsSync(file), file).toBe(true);
    }
    expect(existsSync(join(summary.generated, "manifest.json"))).toBe(true);
    const evaluation = JSON.parse(readFileSync(evalFile, "utf8"));
    // the held-out set mixes the two training motions: 6 videos, easy and hard alternating
    expect(evaluation.videos).toHaveLength(6);
    expect(Object.keys(evaluation.overall.mean_over_videos.masks).sort()).toEqual([
      "copy_key",
      "flow",
      "model",
    ]);
    const html = readFileSync(summary.report, "utf8");
    expect(html).toContain("Evaluation on an unseen motion style");
    expect(JSON.parse(readFileSync(join(out, "quickstart.json"), "utf8")).report).toBe(summary.report);

    // the same run exported mask-only: no next_image, and it propagates the key mask
    const masksOnly = await exportRun(summary.runDir, { maskOnly: true });
    expect(masksOnly.out).toBe(join(summary.runDir, "export", "generator.masks.onnx"));
    const generator = await loadGenerator(masksOnly.out);
    try {
      expect(generator.hasImageOutput).toBe(false);
      const frame = {
        data: new Float32Array(3 * 32 * 32).fill(0.5),
        channels: 3 as const,
        height: 32,
        width: 32,
      };
      const key = { data: new Float32Array(32 * 32), height: 32, width: 32 };
      const result = await propagateMasks(generator, [frame, frame], [{ index: 0, mask: key }]);
      expect(result.masks).toHaveLength(2);
    } finally {
      await generator.dispose();
    }
  }, 300_000);
});
