/** `stillmotion dataset import clips <root>`: one sub-folder per clip (frames + masks) -> dataset. */
import type { Command } from "commander";
import { importClips } from "../../dataset/import-clips.js";
import { addCommonImportOptions, importGroup, parseNumber, printImport } from "./group.js";

export { importClips };

export function register(program: Command): void {
  const cmd = importGroup(program)
    .command("clips <root>")
    .description(
      "a folder of clips: every sub-folder holding a frames folder is one video (natural order); " +
        "its masks folder, matched by file stem, gives evaluation masks",
    )
    .option("--frames-dir <name>", "each clip's frames folder (default frames)")
    .option("--masks-dir <name>", "each clip's evaluation-mask folder (default masks)")
    .option("--fps <n>", "frame rate of every clip (default 25)", parseNumber("fps", 0.001, 1000))
    .addHelpText(
      "after",
      [
        "",
        "Example (<root>/seq1/frames/000000.jpg, <root>/seq1/masks/000000.png, ...):",
        "  $ stillmotion dataset import clips /data/vocalfolds --out data/vocalfolds",
      ].join("\n"),
    );
  addCommonImportOptions(cmd).action(async (root: string, opts) => {
    printImport(await importClips({ root, ...opts }), opts.json);
  });
}
