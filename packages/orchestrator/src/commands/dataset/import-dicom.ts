/** `stillmotion dataset import dicom <file>`: a multi-frame DICOM cine loop (dcmjs) -> dataset. */
import type { Command } from "commander";
import { importDicom } from "../../dataset/import-dicom.js";
import { addCommonImportOptions, importGroup, parseNumber, printImport } from "./group.js";

export { importDicom };

export function register(program: Command): void {
  const cmd = importGroup(program)
    .command("dicom <file>")
    .description("a multi-frame DICOM cine loop (uncompressed; modality defaults to ultrasound)")
    .option(
      "--fps <n>",
      "frame rate (default: FrameTime / CineRate in the file)",
      parseNumber("fps", 0.001, 1000),
    )
    .option("--id <id>", "video id (default: the file name)")
    .addHelpText("after", "\nExample:\n  $ stillmotion dataset import dicom loop.dcm --out data/us-loop");
  addCommonImportOptions(cmd).action(async (file: string, opts) => {
    printImport(await importDicom({ file, ...opts }), opts.json);
  });
}
