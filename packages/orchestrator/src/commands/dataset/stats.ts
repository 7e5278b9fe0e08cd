/** `stillmotion dataset stats <dataset>`: counts, sizes, masks per video, distributions of d. */
import { PHI_NAMES, SIMILARITY_NAMES } from "@stillmotion/losses";
import type { Command } from "commander";
import { type DatasetStats, type Distribution, datasetStats } from "../../dataset/stats.js";
import { datasetGroup, parseChoice } from "./group.js";

export { datasetStats as stats };

const f3 = (v: number) => v.toFixed(3);

export function formatDistribution(d: Distribution | null): string {
  if (!d) return "none";
  return (
    `n=${d.count} mean=${f3(d.mean)} min=${f3(d.min)} p5=${f3(d.p05)} p25=${f3(d.p25)} median=${f3(d.median)} ` +
    `p75=${f3(d.p75)} p95=${f3(d.p95)} max=${f3(d.max)} | histogram 0..1: ${d.histogram.join(" ")}`
  );
}

export function printStats(s: DatasetStats): void {
  console.log(
    `${s.name} (${s.modality}, ${s.channels} channel(s)): ${s.videos} video(s), ${s.frames} frame(s)`,
  );
  console.log(`key masks ${s.keyMasks}, evaluation masks ${s.gtMasks}; sizes ${JSON.stringify(s.sizes)}`);
  if (s.videosWithoutKey.length) console.log(`videos without a key frame: ${s.videosWithoutKey.join(", ")}`);
  for (const v of s.perVideo) {
    console.log(
      `  ${v.id}: ${v.frames} frames ${v.width}x${v.height} @${v.fps} fps, key frames [${v.keyFrames.join(", ")}], ` +
        `${v.gtMasks} evaluation masks, consecutive d median ${v.consecutive ? f3(v.consecutive.median) : "-"}`,
    );
  }
  console.log(`d = ${s.d}`);
  console.log(`  consecutive frames: ${formatDistribution(s.consecutive)}`);
  console.log(`  key frame to frame: ${formatDistribution(s.toKey)}`);
  console.log(`  across videos:      ${formatDistribution(s.crossVideo)}`);
}

export function register(program: Command): void {
  datasetGroup(program)
    .command("stats <dataset>")
    .description("counts, sizes, masks per video, and the distribution of d between frames")
    .option(
      "--d <name>",
      `image similarity: ${SIMILARITY_NAMES.join(" | ")} (default ssim)`,
      parseChoice("d", SIMILARITY_NAMES),
    )
    .option("--json", "print one JSON object (with every pair) instead of text")
    .action(async (dataset: string, opts: { d?: (typeof SIMILARITY_NAMES)[number]; json?: boolean }) => {
      const s = await datasetStats({ dataset, d: opts.d, phi: PHI_NAMES[2] });
      if (opts.json) console.log(JSON.stringify(s));
      else printStats(s);
    });
}
