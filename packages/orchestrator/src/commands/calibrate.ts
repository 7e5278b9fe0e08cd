/** `stillmotion calibrate <dataset>`: suggest γ1 and γ2 from the dataset's d distribution, with reasons. */
import { PHI_NAMES, type PhiName, SIMILARITY_NAMES, type SimilarityName } from "@stillmotion/losses";
import type { Command } from "commander";
import { calibrate } from "../dataset/calibrate.js";
import { parseChoice } from "./dataset/group.js";
import { formatDistribution } from "./dataset/stats.js";

export { calibrate };

export function register(program: Command): void {
  program
    .command("calibrate <dataset>")
    .description("suggest θ's γ1 (d threshold) and γ2 (mask margin) from the dataset, explaining why")
    .option(
      "--d <name>",
      `image similarity: ${SIMILARITY_NAMES.join(" | ")} (default ssim)`,
      parseChoice("d", SIMILARITY_NAMES),
    )
    .option(
      "--phi <name>",
      `mask distance: ${PHI_NAMES.join(" | ")} (default dice)`,
      parseChoice("phi", PHI_NAMES),
    )
    .option("--json", "print one JSON object instead of text")
    .addHelpText("after", "\nExample:\n  $ stillmotion calibrate data/exam --d ssim")
    .action(async (dataset: string, opts: { d?: SimilarityName; phi?: PhiName; json?: boolean }) => {
      const c = await calibrate({ dataset, d: opts.d, phi: opts.phi });
      if (opts.json) {
        const { pairs: _pairs, ...stats } = c.stats;
        console.log(JSON.stringify({ gamma1: c.gamma1, gamma2: c.gamma2, reasoning: c.reasoning, stats }));
        return;
      }
      console.log(`d = ${c.stats.d}, phi = ${c.stats.phi}`);
      console.log(`  consecutive frames: ${formatDistribution(c.stats.consecutive)}`);
      console.log(`  key frame to frame: ${formatDistribution(c.stats.toKey)}`);
      console.log(`  across videos:      ${formatDistribution(c.stats.crossVideo)}`);
      for (const line of c.reasoning) console.log(`- ${line}`);
      console.log(`suggested: gamma1 = ${c.gamma1}, gamma2 = ${c.gamma2}`);
    });
}
