/**
 * The shipped propagation model (models/real-propagation.pt) and the vendored laryngoscopy clip
 * it is timed on, shared by propagate-vs-farneback.mjs and propagate-stream.mjs.
 */
import { join } from "node:path";
import { ROOT, runPythonJson } from "./setup.mjs";

export const SHIPPED_MODEL = join(ROOT, "models/real-propagation.pt");
export const CLIP = join(ROOT, "data/real/vocalfolds-seq8-128/frames/seq8");

/**
 * How the shipped weights are exported for frames of `size` px (`set-matcher` settings): as
 * they are ("wide-grey", full-size correction) below 256 px; from 256 px the "wide-half-grey"
 * matcher (no full-resolution level, the 1/2 level in grey) and the correction at half size
 * (refine scale 2), which keep Dice within 0.005 (docs/models.md, "Cheaper matchers", "The
 * correction at half size", "The matcher at half resolution in grey").
 * This is models/real-propagation-256.onnx.
 */
export const recommendedSettings = (size) =>
  size >= 256 ? { matcher: "wide-half-grey", refineScale: 2 } : undefined;

/**
 * `python -m stillmotion_trainer export --checkpoint SHIPPED_MODEL --out OUT FLAG` (flag:
 * --split or --mask-only): its JSON report, whose `onnx` is the file written. `settings`
 * ({ matcher?, refineScale? }): first `set-matcher` the shipped weights to them (a checkpoint
 * beside OUT), then export that.
 */
export async function exportShippedModel(out, flag, settings = undefined) {
  let checkpoint = SHIPPED_MODEL;
  if (settings !== undefined) {
    checkpoint = `${out}.set.pt`;
    const args = ["-m", "stillmotion_trainer", "set-matcher", SHIPPED_MODEL, "--out", checkpoint];
    if (settings.matcher !== undefined) args.push("--matcher", settings.matcher);
    if (settings.refineScale !== undefined) args.push("--refine-scale", String(settings.refineScale));
    const swapped = await runPythonJson(args, `set-matcher ${JSON.stringify(settings)}`);
    if (!swapped.ok)
      throw new Error(`set-matcher ${JSON.stringify(settings)} failed: ${JSON.stringify(swapped)}`);
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
