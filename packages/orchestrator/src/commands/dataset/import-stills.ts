/** `stillmotion dataset import stills <dir>`: Kvasir-SEG / CVC-ClinicDB style collections -> dataset. */
import type { Command } from "commander";
import { importStills, STILL_LAYOUTS, type StillLayout } from "../../dataset/import-stills.js";
import { addCommonImportOptions, importGroup, parseChoice, printImport } from "./group.js";

export { importStills };

export function register(program: Command): void {
  const layouts = Object.keys(STILL_LAYOUTS) as StillLayout[];
  const cmd = importGroup(program)
    .command("stills <dir>")
    .description(
      "still images with masks: images/ + masks/ (Kvasir-SEG) or Original/ + Ground Truth/ (CVC-ClinicDB)",
    )
    .option("--layout <layout>", `${layouts.join(" | ")} (default: detected)`, parseChoice("layout", layouts))
    .option("--allow-unmasked", "import stills without a mask instead of failing")
    .addHelpText("after", "\nExample:\n  $ stillmotion dataset import stills Kvasir-SEG/ --out data/kvasir");
  addCommonImportOptions(cmd).action(async (dir: string, opts) => {
    printImport(await importStills({ dir, ...opts }), opts.json);
  });
}
