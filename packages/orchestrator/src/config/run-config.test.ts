import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { Code } from "../errors.js";
import { listPlan } from "../runs/sweep-plan.js";
import { applyOverride, ConfigError, configErrors, loadRunConfig, readConfigFile } from "./run-config.js";

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

  it("refuses override paths that would reach Object.prototype, from --set and from a sweep list", () => {
    for (const item of ["__proto__.polluted=1", "constructor.prototype.polluted=1", "data.__proto__=1"]) {
      expect(() => applyOverride({}, item), item).toThrow(ConfigError);
      expect(() => applyOverride({}, item), item).toThrow(/cannot be a config key/);
    }
    expect(() => applyOverride({}, "data..size=1")).toThrow(/a key in the path is empty/);

    const dir = tempDir("config");
    const config = join(dir, "run.yaml");
    writeFileSync(config, "data:\n  dataset: ds\n");
    const list = join(dir, "sweep.yaml");
    writeFileSync(list, 'runs:\n  - set: {"__proto__.polluted": 1}\n');
    const [run] = listPlan(list);
    expect(() => loadRunConfig(config, run.overrides)).toThrow(/"__proto__" cannot be a config key/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("treats inherited names such as toString as new keys, left to the schema", () => {
    const config: Record<string, unknown> = {};
    applyOverride(config, "toString.x=1");
    expect(config).toEqual({ toString: { x: 1 } });
    expect(configErrors({ data: { dataset: "x" }, ...config })).toEqual(["toString: unknown key"]);
  });

  it("refuses a YAML alias cycle, in a config file or an override value, as a config error", () => {
    const dir = tempDir("config");
    const file = join(dir, "cycle.yaml");
    writeFileSync(file, "data: &a\n  dataset: ds\n  self: *a\n");
    expect(() => loadRunConfig(file)).toThrow(ConfigError);
    expect(() => loadRunConfig(file)).toThrow(
      /cycle\.yaml: invalid config\n {2}\(file\): cannot parse: data\.self: a YAML alias repeats a mapping or list inside itself/,
    );
    expect(() => applyOverride({}, "data.size=&s [*s]")).toThrow(
      /--set data.size=&s \[\*s\]: \[0\]: a YAML alias/,
    );
  });

  it("copies shared YAML aliases apart, so an override changes one place only", () => {
    const file = join(tempDir("config"), "shared.yaml");
    writeFileSync(file, "base: &b\n  lr: 1\ntrain: *b\n");
    const config = readConfigFile(file);
    applyOverride(config, "train.lr=2");
    expect(config).toEqual({ base: { lr: 1 }, train: { lr: 2 } });
  });
});
