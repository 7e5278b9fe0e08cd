/** `stillmotion dataset import frames <dir>`: a folder of frames (+ mask folders) -> dataset. */
import type { Command } from "commander";
import { importFrames } from "../../dataset/import-frames.js";
import { addCommonImportOptions, importGroup, parseNumber, printImport } from "./group.js";

export { importFrames };

export function register(program: Command): void {
  const cmd = importGroup(program)
    .command("frames <dir>")
    .description("a folder of frame images (one video, natural file order) with optional mask folders")
    .option("--masks <dir>", "key-frame masks, matched to frames by file name stem")
    .option("--gt-masks <dir>", "full evaluation masks, matched by stem")
    .option("--fps <n>", "frame rate (default 25)", parseNumber("fps", 0.001, 1000))
    .option("--id <id>", "video id (default: the folder name)")
    .addHelpText(
      "after",
      "\nExample:\n  $ stillmotion dataset import frames exam01/ --masks exam01-masks/ --out data/exam01",
    );
  addCommonImportOptions(cmd).action(async (dir: string, opts) => {
    printImport(await importFrames({ dir, ...opts }), opts.json);
  });
}
