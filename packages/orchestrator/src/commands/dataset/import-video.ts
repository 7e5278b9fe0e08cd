/** `stillmotion dataset import video <file>`: mp4/avi/mov through ffmpeg -> dataset. */
import type { Command } from "commander";
import { importVideo } from "../../dataset/import-video.js";
import { addCommonImportOptions, importGroup, parseNumber, printImport } from "./group.js";

export { importVideo };

export function register(program: Command): void {
  const cmd = importGroup(program)
    .command("video <file>")
    .description("a video file decoded by ffmpeg (/usr/bin/ffmpeg or $STILLMOTION_FFMPEG)")
    .option("--fps <n>", "resample to this frame rate (default: the file's)", parseNumber("fps", 0.001, 1000))
    .option("--start <s>", "start time in seconds", parseNumber("start", 0))
    .option("--end <s>", "end time in seconds", parseNumber("end", 0))
    .option("--masks <dir>", "key masks named by extracted frame index (0.png, 000012.png)")
    .option("--id <id>", "video id (default: the file name)")
    .option("--ffmpeg <path>", "ffmpeg binary")
    .addHelpText(
      "after",
      "\nExample:\n  $ stillmotion dataset import video exam.mp4 --fps 10 --start 5 --end 35 --out data/exam",
    );
  addCommonImportOptions(cmd).action(async (file: string, opts) => {
    printImport(await importVideo({ file, ...opts }), opts.json);
  });
}
