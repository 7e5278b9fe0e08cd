/** A real two-run sweep of the tiny trainer, compared in one table. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { makeSyntheticDataset, tempDir, tinyConfig } from "../../test/helpers.js";
import { sweep } from "./sweep.js";

describe("stillmotion sweep", () => {
  it("runs every grid point one after another and tabulates them", async () => {
    const dir = tempDir("sweep-run");
    const config = join(dir, "base.yaml");
    writeFileSync(config, YAML.stringify(tinyConfig(makeSyntheticDataset(dir), 3)));
    const { results, table } = await sweep({
      config,
      grid: ["train.lr=0.001,0.0003"],
      root: join(dir, "runs"),
    });
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ["lr=0.001", true],
      ["lr=0.0003", true],
    ]);
    expect(table).toMatch(/lr=0\.001\s+train\.lr=0\.001\s+max_steps\s+3/);
    expect(table.split("\n")).toHaveLength(3);
  });
});
