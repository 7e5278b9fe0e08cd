/**
 * `stillmotion quickstart` — the README's main job, no arguments needed:
 *   1. synthetic endoscopy data: a training set, and held-out videos with one key-frame mask each,
 *      both mixing slow (easy) and fast (hard: jumps, zoom, the lesion leaving the view) motion
 *   2. train the `realtime` preset for a bounded time on CPU (configs/quickstart.yaml), with progress
 *   3. export the generator to ONNX
 *   4. held-out stills -> videos with masks (Fig. 5)
 *   5. held-out videos + one key-frame mask -> masks on every frame (Fig. 6)
 *   6. evaluate against the ground truth and the copy-key / optical-flow baselines, on held-out
 *      videos of the training motion and of a motion style training never saw
 *   7. a report a person can open: <out>/run/report.html
 */
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { saveReportSection, writeReport } from "../dashboard/report.js";
import { evalReportSection } from "../eval-report/eval-section.js";
import { formatEvalReport } from "../eval-report/eval-table.js";
import { evaluateRun } from "../eval-report/run-eval.js";
import { generateVideos } from "../pipelines/generate-videos.js";
import { listStills } from "../pipelines/inputs.js";
import { propagateVideos } from "../pipelines/propagate-videos.js";
import { clipStrip } from "../pipelines/strips.js";
import { repoRoot } from "../repo-paths.js";
import { writeJsonAtomic } from "../runs/run-record.js";
import { stepBar } from "../runs/step-bar.js";
import { runTrainerCommand } from "../trainer/python-command.js";
import { exportRun } from "./export.js";
import { train } from "./train.js";

export interface QuickstartOptions {
  out?: string;
  minutes?: number;
  size?: number;
  seed?: number;
  /** Motion styles of the training and held-out videos, comma-separated (synth --motion). */
  motion?: string;
}

/** Slow and fast camera motion, alternating by video: real endoscopy has both. */
export const QUICKSTART_MOTION = "easy,hard";

function say(text: string): void {
  process.stderr.write(`\n== ${text}\n`);
}

async function synth(
  out: string,
  videos: number,
  frames: number,
  size: number,
  seed: number,
  motion = "easy",
) {
  await runTrainerCommand(
    [
      "synth",
      "--kind",
      "endoscopy",
      "--out",
      out,
      "--videos",
      String(videos),
      "--frames",
      String(frames),
    ].concat(["--size", String(size), "--seed", String(seed), "--motion", motion]),
  );
  return out;
}

export async function quickstart(options: QuickstartOptions = {}) {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const out = resolve(options.out ?? join("runs", "quickstart", stamp));
  const size = options.size ?? 64;
  const seed = options.seed ?? 0;
  const minutes = options.minutes ?? 4;
  const motion = options.motion ?? QUICKSTART_MOTION;
  mkdirSync(out, { recursive: true });
  const started = Date.now();

  say(`1/7 synthetic endoscopy data -> ${out}/data`);
  const trainSet = await synth(join(out, "data", "train"), 32, 24, size, seed, motion);
  const testSet = await synth(join(out, "data", "heldout"), 6, 24, size, seed + 1000, motion);
  // A motion style the training set never shows (hand-held shake: jumps, rotation, glare).
  const shakeSet = await synth(join(out, "data", "heldout-shake"), 6, 24, size, seed + 2000, "shake");

  say(`2/7 training the realtime preset for up to ${minutes} min (Ctrl-C stops early, with a checkpoint)`);
  const runDir = join(out, "run");
  const outcome = await train({
    config: join(repoRoot(), "configs", "quickstart.yaml"),
    set: [
      `data.dataset=${trainSet}`,
      `data.size=${size}`,
      `stop.time_budget_s=${minutes * 60}`,
      `train.seed=${seed}`,
    ],
    runDir,
  });

  say("3/7 exporting the generator to ONNX");
  const exported = await exportRun(runDir);

  say("4/7 held-out stills -> 16-frame videos with masks (Fig. 5)");
  const stills = await listStills(testSet);
  let bar = stepBar("generate");
  const generated = await generateVideos({
    model: exported.out,
    stills,
    outDir: join(out, "generated"),
    steps: 16,
    onProgress: (d, t, id) => bar.update(d, t, id),
  });
  bar.stop();

  say("5/7 held-out videos with one key-frame mask -> masks on every frame (Fig. 6)");
  bar = stepBar("propagate");
  const propagated = await propagateVideos({
    model: exported.out,
    dataset: testSet,
    outDir: join(out, "propagated"),
    onProgress: (d, t, id) => bar.update(d, t, id),
  });
  bar.stop();

  say("6/7 evaluating against the ground truth and the copy-key / optical-flow baselines");
  const evaluation = await evaluateRun({ runDir, dataset: testSet, split: "all", report: true });
  console.log(`held-out videos, training motion (${motion}):\n${formatEvalReport(evaluation.report)}`);
  const shake = await evaluateRun({
    runDir,
    dataset: shakeSet,
    split: "all",
    report: false,
    out: join(runDir, "eval-heldout-shake.json"),
  });
  console.log(`\nheld-out videos, unseen motion style (shake):\n${formatEvalReport(shake.report)}`);
  saveReportSection(runDir, {
    ...evalReportSection(shake.report),
    id: "eval-heldout-shake",
    title: "Evaluation on an unseen motion style (hand-held shake)",
    order: 51,
  });

  say("7/7 writing the report");
  saveReportSection(runDir, {
    id: "quickstart-generated",
    title: "Still → video (Fig. 5): held-out stills rolled out 16 frames",
    order: 20,
    html: `<p>Lesion area (fraction of pixels &gt; 0.5) per clip, first → last frame: ${generated.clips
      .map((c) => `${c.id} ${c.maskAreas[0].toFixed(3)} → ${c.maskAreas.at(-1)?.toFixed(3)}`)
      .join("; ")}. Generated dataset: <code>${relative(runDir, generated.dataset)}</code>.</p>`,
    strips: generated.clips.slice(0, 4).map((c) => clipStrip(c.id, c.video.frames, c.video.masks)),
  });
  saveReportSection(runDir, {
    id: "quickstart-propagated",
    title: "Video + one key-frame mask → masks on every frame (Fig. 6)",
    order: 30,
    html: `<p>${propagated.length} held-out videos; overlay videos in <code>${relative(runDir, join(out, "propagated"))}</code>.</p>`,
    strips: propagated.slice(0, 4).map((v) => clipStrip(v.id, v.frames, v.masks)),
  });
  const report = await writeReport(runDir);

  const latest = join(resolve(out, ".."), "latest");
  try {
    if (existsSync(latest)) rmSync(latest);
    symlinkSync(out, latest);
  } catch {
    // a convenience only
  }
  const summary = {
    out,
    runDir,
    trained: { reason: outcome.reason, step: outcome.step },
    model: exported.out,
    generated: generated.dataset,
    propagated: join(out, "propagated"),
    eval: evaluation.out,
    evalUnseenMotion: shake.out,
    report,
    minutes: Math.round((Date.now() - started) / 600) / 100,
  };
  writeJsonAtomic(join(out, "quickstart.json"), summary);
  return summary;
}

export function register(program: Command): void {
  program
    .command("quickstart")
    .description(
      "the whole product on generated data: data, train, export, generate, propagate, eval, report",
    )
    .option("--out <dir>", "output folder (default runs/quickstart/<timestamp>)")
    .option("--minutes <n>", "training time budget in minutes", Number, 4)
    .option("--size <px>", "frame size", Number, 64)
    .option("--seed <n>", "seed for data and training", Number, 0)
    .option(
      "--motion <styles>",
      "camera motion of the training and held-out videos: easy | hard | sweep | shake, or several joined by commas",
      QUICKSTART_MOTION,
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ stillmotion quickstart\n  $ stillmotion quickstart --minutes 10 --out runs/qs",
    )
    .action(async (opts: QuickstartOptions) => {
      const s = await quickstart(opts);
      console.log(
        `\nreport:    ${s.report}\nmodel:     ${s.model}\ngenerated: ${s.generated}\npropagated: ${s.propagated}`,
      );
    });
}
