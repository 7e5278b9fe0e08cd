/** `stillmotion dataset check <dataset>`: decode every file and report every problem by file. */
import type { Command } from "commander";
import { type CheckReport, checkDataset } from "../../dataset/check.js";
import { Code, StillMotionError } from "../../errors.js";
import { datasetGroup } from "./group.js";

export async function check(options: { dataset: string }): Promise<CheckReport> {
  return checkDataset(options.dataset);
}

export function register(program: Command): void {
  datasetGroup(program)
    .command("check <dataset>")
    .description("validate a dataset: manifest, every image decodes, sizes match, masks binary")
    .option("--json", "print one JSON object instead of text")
    .action(async (dataset: string, opts: { json?: boolean }) => {
      const r = await check({ dataset });
      if (opts.json) {
        const errors = r.errors.map((e) => ({ reason: e.reason, file: e.file, message: e.detail }));
        console.log(JSON.stringify({ ...r, errors }));
      } else {
        for (const e of r.errors) console.log(`error: ${e.message}`);
        console.log(
          `${r.ok ? "ok" : "FAILED"}: ${r.videos} video(s), ${r.frames} frame(s), ${r.keyMasks} key mask(s), ` +
            `${r.gtMasks} evaluation mask(s); ${r.errors.length} error(s)`,
        );
      }
      if (!r.ok)
        throw new StillMotionError(Code.INVALID_ARGUMENT, `${dataset}: ${r.errors.length} problem(s) found`);
    });
}
