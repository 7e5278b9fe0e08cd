import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { Code } from "../errors.js";
import { applyOverride, ConfigError, configErrors, loadRunConfig } from "./run-config.js";

describe("run config", () => {
  it("reads YAML, applies --set overrides with YAML scalar types, and validates", () => {
    const dir = tempDir("config");
    const file = join(dir, "run.yaml");
    writeFileSync(file, "data:\n  dataset: ds\nmodel:\n  preset: tiny\n");
    const config = loadRunConfig(file, ["train.lr=3e-4", "stop.max_steps=50", "data.size=[32, 48]"]);
    expect(config).toMatchObject({ train: { lr: 3e-4 }, stop: { max_steps: 50 }, data: { size: [32, 48] } });
  });

  it("names the key, the value and what is allowed", () => {
    expect(configErrors({ data: { dataset: "x" }, train: { mode: "sideways" } })).toEqual([
      expect.stringMatching(
        /^train\.mode: must be one of "forward", "reverse", "fused", "keyframe".*got "sideways"/,
      ),
    ]);
    expect(configErrors({ data: { dataset: "x" }, trian: {} })).toEqual(["trian: unknown key"]);
    expect(configErrors({})).toEqual(["data: required"]);
  });

  it("throws a typed INVALID_ARGUMENT error naming the file", () => {
    const dir = tempDir("config");
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ data: { dataset: "x" }, stop: { max_steps: 0 } }));
    const err = (() => {
      try {
        loadRunConfig(file);
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.code).toBe(Code.INVALID_ARGUMENT);
    expect(err?.message).toContain(file);
    expect(err?.errors[0]).toMatch(/^stop\.max_steps: /);
  });

  it("refuses an override that is not key=value", () => {
    expect(() => applyOverride({}, "novalue")).toThrow(/expected key.path=value/);
  });
});
