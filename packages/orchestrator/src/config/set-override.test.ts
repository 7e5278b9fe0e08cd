// The --set grammar against tools/parity/set-grammar-cases.json, the table the Python trainer's
// test_train_set_override.py reads too: same value, or same reason and message, on both sides.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Code } from "../errors.js";
import { repoRoot } from "../repo-paths.js";
import { applyOverride, parseOverride, SetOverrideError } from "./set-override.js";

interface ValueCase {
  set: string;
  path?: string[];
  value?: unknown;
  error?: string;
  message?: string;
}
interface ApplyCase {
  base: Record<string, unknown>;
  set: string[];
  config?: Record<string, unknown>;
  error?: string;
  message?: string;
}
const table = JSON.parse(readFileSync(join(repoRoot(), "tools/parity/set-grammar-cases.json"), "utf8")) as {
  format: string;
  cases: ValueCase[];
  apply_cases: ApplyCase[];
};

function refusal(run: () => unknown): SetOverrideError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SetOverrideError);
    return err as SetOverrideError;
  }
  throw new Error("expected a SetOverrideError");
}

describe("--set grammar (shared cases)", () => {
  it("reads the shared table", () => {
    expect(table.format).toBe("stillmotion-set-grammar-cases");
    expect(table.cases.length).toBeGreaterThan(100);
  });

  it.each(table.cases.map((c) => [JSON.stringify(c.set), c] as const))("%s", (_, c) => {
    if (c.error === undefined) {
      expect(parseOverride(c.set)).toEqual({ path: c.path, value: c.value });
      return;
    }
    const err = refusal(() => parseOverride(c.set));
    expect(err.reason).toBe(c.error);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.errors).toEqual([c.message]);
  });

  it.each(table.apply_cases.map((c) => [c.set.join(" "), c] as const))("applies %s", (_, c) => {
    const config = structuredClone(c.base);
    const run = () => {
      for (const item of c.set) applyOverride(config, item);
    };
    if (c.error === undefined) {
      run();
      expect(config).toEqual(c.config);
      return;
    }
    const err = refusal(run);
    expect(err.reason).toBe(c.error);
    expect(err.errors).toEqual([c.message]);
  });

  it("leaves Object.prototype alone whatever the override", () => {
    for (const c of table.cases) {
      try {
        applyOverride({}, c.set);
      } catch {}
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});
