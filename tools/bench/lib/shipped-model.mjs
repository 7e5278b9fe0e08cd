/**
 * The shipped propagation model (models/real-propagation.pt) and the vendored laryngoscopy clip
 * it is timed on, shared by propagate-vs-farneback.mjs and propagate-stream.mjs.
 */
import { join } from "node:path";
import { ROOT, runPythonJson } from "./setup.mjs";

export const SHIPPED_MODEL = join(ROOT, "models/real-propagation.pt");
export const CLIP = join(ROOT, "data/real/vocalfolds-seq8-128/frames/seq8");

/**
 * The matcher the shipped weights are exported with for frames of `size` px: its own
 * ("wide-grey") below 256 px, "wide-half" (no full-resolution level) from 256 px, where it
 * keeps Dice within 0.005 at 1.3x the speed (docs/models.md, "Which matcher at which size").
 */
export const recommendedMatcher = (size) => (size >= 256 ? "wide-half" : "wide-grey");

/**
 * `python -m stillmotion_trainer export --checkpoint SHIPPED_MODEL --out OUT FLAG` (flag:
 * --split or --mask-only): its JSON report, whose `onnx` is the file written. `matcher`: first
 * `set-matcher` the shipped weights to it (a checkpoint beside OUT), then export that.
 */
export async function exportShippedModel(out, flag, matcher = undefined) {
  let checkpoint = SHIPPED_MODEL;
  if (matcher !== undefined) {
    checkpoint = `${out}.${matcher}.pt`;
    const args = [
      "-m",
      "stillmotion_trainer",
      "set-matcher",
      SHIPPED_MODEL,
      "--matcher",
      matcher,
      "--out",
      checkpoint,
    ];
    const swapped = await runPythonJson(args, `set-matcher ${matcher}`);
    if (!swapped.ok) throw new Error(`set-matcher ${matcher} failed: ${JSON.stringify(swapped)}`);
  }
  const args = ["-m", "stillmotion_trainer", "export", "--checkpoint", checkpoint, "--out", out, flag];
  const report = await runPythonJson(args, `export ${flag}`);
  if (!report.ok) throw new Error(`export ${flag} failed: ${JSON.stringify(report)}`);
  return report;
}

/** The first n frames of the clip as 8-bit RGB at size x size (`decode`: the library's). */
export function clipFrames(decode, n, size) {
  const names = Array.from({ length: n }, (_, i) => `${String(i).padStart(6, "0")}.jpg`);
  return Promise.all(names.map((f) => decode(join(CLIP, f), 3, { width: size, height: size })));
}
