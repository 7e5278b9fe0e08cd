/** `stillmotion eval <runDir | --checkpoint F> --dataset DS`: propagation and next-frame scores. */
import type { Command } from "commander";
import { formatEvalReport } from "../eval-report/eval-table.js";
import { type EvalOptions, evaluateRun, FUSIONS, REFERENCES, SPLITS } from "../eval-report/run-eval.js";
import { collect, parseChoice, parseInteger, parseNumber } from "./dataset/group.js";

export { evaluateRun };

type CliOptions = Omit<EvalOptions, "runDir" | "onProgress"> & { json?: boolean };

export function register(program: Command): void {
  program
    .command("eval [runDir]")
    .description(
      "score mask propagation (Dice, IoU, boundary F) and next-frame prediction (PSNR, SSIM) on a dataset " +
        "with ground-truth masks, beside copy-key-mask, optical-flow and copy-last-frame baselines",
    )
    .requiredOption("--dataset <dir>", "dataset whose frames carry gtMask (docs/dataset-format.md)")
    .option("--checkpoint <file>", "checkpoint to evaluate (default: the run's best, else latest)")
    .option(
      "--split <split>",
      `videos to evaluate: ${SPLITS.join(" | ")} (default all)`,
      parseChoice("split", SPLITS),
    )
    .option("--video <id>", "evaluate only this video (repeatable; default every video)", collect)
    .option(
      "--val-fraction <f>",
      "validation share for --split (default: the run's data.val_fraction)",
      parseNumber("val fraction", 0, 0.999),
    )
    .option("--seed <n>", "split seed (default: the run's train.seed)", parseInteger("seed", 0))
    .option("--size <size>", "evaluation size: N, HxW or native (default: the run's data.size)")
    .option(
      "--fusion <mode>",
      `how chains from several key frames combine: ${FUSIONS.join(" | ")} (default linear)`,
      parseChoice("fusion", FUSIONS),
    )
    .option(
      "--reference <from>",
      `what each step carries the mask from: ${REFERENCES.join(" | ")} (default previous: the mask ` +
        "inferred for the previous frame, Fig. 6; key: the key frame's own mask)",
      parseChoice("reference", REFERENCES),
    )
    .option(
      "--adapt-steps <n>",
      "first fit the model's learned correction to each video's key frames (augmented copies) for " +
        "n steps; recommended with --reference key on real video, e.g. 300 (default 0: off)",
      parseInteger("adapt steps", 0),
    )
    .option(
      "--adapt-seed <n>",
      "seed of the adaptation's random augmentations (default 0); another seed shows how much a " +
        "score owes to them (docs/real-data.md)",
      parseInteger("adapt seed", 0),
    )
    .option(
      "--downsample <n>",
      "run the model on frames n times smaller per side (box average), masks brought back to the " +
        "evaluation size (bilinear) and scored there; 2 at 256 px is about 3x faster (default 1)",
      parseInteger("downsample", 1),
    )
    .option("--out <file>", "report file (default: <runDir>/eval.json)")
    .option("--no-report", "do not add the evaluation to the run's report.html")
    .option("--json", "print the report as one JSON object instead of the table")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ stillmotion eval runs/quickstart --dataset data/endoscopy-demo",
        "  $ stillmotion eval runs/quickstart --dataset data/endoscopy-demo --split val --json",
        "  $ stillmotion eval --checkpoint model.pt --dataset data/bench --size native --out bench-eval.json",
        "  $ stillmotion eval --checkpoint models/real-propagation.pt --dataset data/real/vocalfolds-seq8-128 --reference key --adapt-steps 300",
        "",
        "The report goes to <runDir>/eval.json and, as a section with a per-video Dice chart, into",
        "<runDir>/report.html. Reading the table: docs/evaluation.md",
      ].join("\n"),
    )
    .action(async (runDir: string | undefined, opts: CliOptions) => {
      const onProgress = process.stderr.isTTY
        ? (line: string) => process.stderr.write(`${line}\n`)
        : undefined;
      const { report, out, html } = await evaluateRun({ ...opts, runDir, onProgress });
      if (opts.json) {
        console.log(JSON.stringify(report));
        return;
      }
      console.log(formatEvalReport(report));
      if (out) console.log(`\nwrote ${out}`);
      if (html) console.log(`report section added to ${html}`);
    });
}
