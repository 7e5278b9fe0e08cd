import { describe, expect, it } from "vitest";
import { StillMotionError } from "../errors.js";
import { type EvalBlock, type EvalReport, parseEvalReport, type VideoEval } from "./eval-report.js";
import { EVAL_SECTION_ID, evalReportSection, evalTableHtml } from "./eval-section.js";
import { alignColumns, diceVerdict, fmt, formatEvalReport } from "./eval-table.js";

function block(dice: [number, number, number], psnr: [number, number]): EvalBlock {
  const scores = (d: number) => ({ dice: d, iou: d / 2, boundary_f: d, temporal_stability: 0.9 });
  return {
    masks: { model: scores(dice[0]), copy_key: scores(dice[1]), flow: scores(dice[2]) },
    mask_stats: { mean: 0.2, fraction_above_half: 0.15, gt_fraction: 0.12 },
    next_frame: { model: { psnr: psnr[0], ssim: 0.8 }, copy_last: { psnr: psnr[1], ssim: 0.7 } },
  };
}

function video(id: string, dice: [number, number, number], frames: number): VideoEval {
  const frameScores = (d: number) => ({ dice: d, iou: d / 2, boundary_f: d });
  return {
    id,
    frames: frames + 1,
    key_frames: [0],
    key_source: "manifest",
    scored_frames: frames,
    transitions: frames,
    ...block(dice, [30, 25]),
    mask_stats: { mean: 0.2, fraction_above_half: 0.15, gt_fraction: 0.12, collapsed: null },
    gt_temporal_stability: 0.95,
    generator_steps: frames,
    model_seconds: 0.01,
    per_frame: [
      {
        frame: 1,
        gt_fraction: 0.1,
        model: frameScores(dice[0]),
        copy_key: frameScores(dice[1]),
        flow: frameScores(dice[2]),
      },
    ],
  };
}

/** A report as the trainer writes it, for two videos of different lengths. */
function sampleReport(): EvalReport {
  return {
    format: "stillmotion-eval",
    version: 1,
    checkpoint: "/runs/a/checkpoints/best.pt",
    step: 40,
    preset: "tiny",
    generator: { variant: "shared", channels: 3, next_frame_input: false },
    dataset: "/data/ds",
    dataset_name: "demo",
    split: "val",
    val_fraction: 0.2,
    seed: 0,
    size: [32, 32],
    fusion: "linear",
    boundary_tolerance_px: 2,
    flow: { method: "farneback", winsize: 15 },
    methods: { masks: ["model", "copy_key", "flow"], images: ["model", "copy_last"] },
    videos: [video("clip-<1>", [0.9, 0.5, 0.6], 3), video("clip-2", [0.7, 0.6, 0.8], 1)],
    skipped: [{ id: "clip-3", reason: "no frame has a gtMask" }],
    overall: {
      videos: 2,
      scored_frames: 4,
      transitions: 4,
      collapsed_videos: 0,
      mean_over_videos: block([0.8, 0.55, 0.7], [30, 25]),
      frame_weighted: block([0.85, 0.525, 0.65], [31, 24.5]),
    },
    warnings: ["clip-2: no keyMask in the manifest; frame 0's gtMask is used as the key mask"],
    elapsed_s: 1.5,
  };
}

describe("parseEvalReport", () => {
  it("accepts a trainer report", () => {
    expect(parseEvalReport(sampleReport()).videos).toHaveLength(2);
  });

  it("names the first missing or wrong field", () => {
    const noFlow = sampleReport() as unknown as {
      overall: { frame_weighted: { masks: Record<string, unknown> } };
    };
    delete noFlow.overall.frame_weighted.masks.flow;
    expect(() => parseEvalReport(noFlow)).toThrow(/overall\.frame_weighted\.masks\.flow\.dice: missing/);
    const badPsnr = sampleReport() as unknown as {
      videos: Array<{ next_frame: { model: { psnr: unknown } } }>;
    };
    badPsnr.videos[1].next_frame.model.psnr = "high";
    expect(() => parseEvalReport(badPsnr)).toThrow(
      /videos\.1\.next_frame\.model\.psnr: expected a number or null/,
    );
    expect(() => parseEvalReport({ ...sampleReport(), version: 2 })).toThrow(StillMotionError);
    expect(() => parseEvalReport({ format: "other" })).toThrow(/format: expected "stillmotion-eval"/);
  });
});

describe("terminal table", () => {
  it("aligns the first column left and the rest right", () => {
    expect(
      alignColumns([
        ["a", "1.0"],
        ["long name", "10.25"],
      ]),
    ).toEqual(["a            1.0", "long name  10.25"]);
    expect(fmt(null)).toBe("–");
    expect(fmt(0.12345)).toBe("0.123");
  });

  it("shows every video, both overall rows, the verdict, skips and warnings", () => {
    const text = formatEvalReport(sampleReport());
    const rows = text.split("\n");
    const clip1 = rows.find((r) => r.startsWith("clip-<1>")) ?? "";
    // Dice model/copy-key/flow, IoU model/copy-key/flow, BF model/copy-key/flow, mask share, gt share
    expect(clip1.split(/\s+/).slice(1)).toEqual([
      "3",
      ...["0.900", "0.500", "0.600", "0.450", "0.250", "0.300", "0.900", "0.500", "0.600"],
      "0.15",
      "0.12",
    ]);
    expect(rows.filter((r) => r.startsWith("frame-weighted"))).toHaveLength(2); // masks and images
    expect(text).toContain(
      "Dice (frame-weighted): model 0.850 vs flow 0.650 (better baseline), margin +0.200",
    );
    expect(text).toContain("PSNR (frame-weighted): model 31.00 dB vs copy-last 24.50 dB, margin +6.50 dB");
    expect(text).toContain("skipped clip-3: no frame has a gtMask");
    expect(text).toContain("warning: clip-2: no keyMask");
    expect(text).toContain(
      "split val: 2 video(s), 32x32, linear fusion, masks carried from the previous frame, 1 skipped",
    );
  });

  it("picks the better baseline by frame-weighted Dice", () => {
    const report = sampleReport();
    report.overall.frame_weighted.masks.copy_key.dice = 0.9;
    expect(diceVerdict(report)).toEqual({ baseline: "copy_key", margin: expect.closeTo(-0.05, 9) });
  });
});

describe("report section", () => {
  it("has an escaped table and per-video Dice and PSNR bars with the overall bar last", () => {
    const section = evalReportSection(sampleReport());
    expect(section.id).toBe(EVAL_SECTION_ID);
    expect(section.title).toBe("Evaluation (step 40)");
    expect(section.html).toContain("clip-&lt;1&gt;");
    expect(section.html).not.toContain("clip-<1>");
    const [dice, psnr] = section.charts ?? [];
    expect(dice.kind).toBe("bars");
    expect(dice.categories).toEqual(["clip-<1>", "clip-2", "all (frame-weighted)"]);
    expect(dice.series.map((s) => s.values)).toEqual([
      [0.9, 0.7, 0.85],
      [0.5, 0.6, 0.525],
      [0.6, 0.8, 0.65],
    ]);
    expect(psnr.series.map((s) => s.values)).toEqual([
      [30, 30, 31],
      [25, 25, 24.5],
    ]);
  });

  it("puts one table row per video plus the two overall rows", () => {
    const html = evalTableHtml(sampleReport());
    expect(html.match(/<tr>/g)).toHaveLength(1 + 2 + 2);
    expect(html).toContain("<th>Dice copy-key</th>");
  });
});
