/** `stillmotion keyframes <dataset>`: score frames, pick k key frames per video, optionally write them. */
import type { Command } from "commander";
import { ASSIGN_MODES, type KeyframesOptions, keyframes } from "../dataset/keyframes.js";
import { parseChoice, parseInteger } from "./dataset/group.js";

export { keyframes };

export function register(program: Command): void {
  program
    .command("keyframes <dataset>")
    .description("choose key frames by sharpness, exposure and lesion position (METHOD.md claims 8-10)")
    .option("--k <n>", "key frames per video (default 1)", parseInteger("k", 1))
    .option(
      "--protocol <p>",
      "pick by position instead of score: first (first frame with a gtMask) | every:N (masked frames 0, N, 2N, ...)",
    )
    .option(
      "--min-gap <n>",
      "minimum frames between chosen key frames (default floor(n / 2k))",
      parseInteger("min gap", 1),
    )
    .option(
      "--detector <model.onnx>",
      "ONNX lesion detector: input image [1,C,H,W] 0..1, output mask [1,1,H,W] 0..1",
    )
    .option("--write", "write keyframes.json into the dataset")
    .option(
      "--assign <mode>",
      `with --write, make the chosen frames the key frames: ${ASSIGN_MODES.join(" | ")}`,
      parseChoice("assign mode", ASSIGN_MODES),
    )
    .option("--json", "print one JSON object instead of text")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ stillmotion keyframes data/exam --k 2",
        "  $ stillmotion keyframes data/exam --k 1 --write --assign gt",
        "  $ stillmotion keyframes data/vocalfolds --protocol every:10 --write --assign gt",
      ].join("\n"),
    )
    .action(async (dataset: string, opts: Omit<KeyframesOptions, "dataset"> & { json?: boolean }) => {
      const r = await keyframes({ dataset, ...opts });
      if (opts.json) {
        console.log(JSON.stringify(r));
        return;
      }
      for (const v of r.videos) {
        if (r.protocol) {
          console.log(`${v.id}: ${v.chosen.join(", ")}  [${v.frames} frames, protocol ${r.protocol}]`);
          continue;
        }
        const best = v.chosen.map((i) => `${i} (score ${v.scores[i].score.toFixed(3)})`).join(", ");
        console.log(`${v.id}: ${best}  [${v.frames} frames, lesion position from ${v.maskSource}]`);
      }
      if (r.selectionFile)
        console.log(`wrote ${r.selectionFile}${r.manifestUpdated ? ` and updated ${r.manifest}` : ""}`);
    });
}
