// Schema errors against tools/parity/config-error-cases.json, the table the Python trainer's
// test_train_config_errors.py reads too: the same config gives the same lines on both sides.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../repo-paths.js";
import { configErrors } from "./run-config.js";

const table = JSON.parse(readFileSync(join(repoRoot(), "tools/parity/config-error-cases.json"), "utf8")) as {
  format: string;
  cases: Array<{ why: string; config: Record<string, unknown>; errors: string[] }>;
};

describe("schema errors (shared cases)", () => {
  it("reads the shared table, which covers every kind of violation the schema has", () => {
    expect(table.format).toBe("stillmotion-config-error-cases");
    const lines = table.cases.flatMap((c) => c.errors).join("\n");
    for (const kind of [
      "unknown key",
      "required key",
      "must be of type",
      "unsupported value",
      ">=",
      "<=",
      "> 0",
    ]) {
      expect(lines).toContain(kind);
    }
  });

  it.each(table.cases.map((c) => [c.why, c] as const))("%s", (_, c) => {
    expect(configErrors(structuredClone(c.config))).toEqual(c.errors);
  });
});
