import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { Code } from "../errors.js";
import { schemaPath } from "../repo-paths.js";
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

  it("fills in the schema's defaults, so the typed config has every defaulted key", () => {
    const file = join(tempDir("config"), "min.yaml");
    writeFileSync(file, "data:\n  dataset: ds\nstop:\n  early_stopping: {}\n");
    const config = loadRunConfig(file);
    const schema = JSON.parse(readFileSync(schemaPath("train-config.v1.schema.json"), "utf8"));
    const train = schema.$defs.train.properties;
    expect(config.train.lr).toBe(train.lr.default);
    expect(config.train.scheduler.horizon).toBe(train.scheduler.properties.horizon.default);
    expect(config.train.gan.discriminator.depth).toBe(
      train.gan.properties.discriminator.properties.depth.default,
    );
    expect(config.stop.max_steps).toBe(schema.$defs.stop.properties.max_steps.default);
    expect(config.checkpoint.run_dir).toBe(schema.$defs.checkpoint.properties.run_dir.default);
    expect(config.name).toBeNull();
    expect(config.model.overrides).toEqual({});
    // ajv fills no defaults inside oneOf branches: the trainer fills patience and min_delta.
    expect(config.stop.early_stopping).toEqual({});
  });

  it("refuses NaN and infinities in a config file (every range check would let NaN through)", () => {
    const file = join(tempDir("config"), "nan.yaml");
    writeFileSync(file, "data:\n  dataset: ds\ntrain:\n  lr: .nan\n");
    expect(() => loadRunConfig(file)).toThrow(ConfigError);
    expect(() => loadRunConfig(file)).toThrow(
      "(file): cannot parse: train.lr: NaN is not a finite number (JSON has no NaN or Infinity)",
    );
  });

  it("names the key, the value and what is allowed", () => {
    expect(configErrors({ data: { dataset: "x" }, train: { mode: "sideways" } })).toEqual([
      expect.stringMatching(
        /^train\.mode: unsupported value "sideways"\. Should be one of: "forward", "reverse", "fused", "keyframe"/,
      ),
    ]);
    expect(configErrors({ data: { dataset: "x" }, trian: {} })).toEqual([
      expect.stringMatching(/^trian: unknown key\. Should be one of: \$schema, checkpoint, data, /),
    ]);
    expect(configErrors({})).toEqual(["data: required key is missing"]);
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
    expect(configErrors({ data: { dataset: "x" }, ...config })).toEqual([
      expect.stringMatching(/^toString: unknown key\./),
    ]);
  });

  it("refuses a YAML alias cycle, in a config file or an override value, as a config error", () => {
    const dir = tempDir("config");
    const file = join(dir, "cycle.yaml");
    writeFileSync(file, "data: &a\n  dataset: ds\n  self: *a\n");
    expect(() => loadRunConfig(file)).toThrow(ConfigError);
    expect(() => loadRunConfig(file)).toThrow(
      /cycle\.yaml: invalid config\n {2}\(file\): cannot parse: data\.self: a YAML alias repeats a mapping or list inside itself/,
    );
    // --set values take no anchors or aliases at all (set-override.ts).
    expect(() => applyOverride({}, "data.size=&s [*s]")).toThrow(
      /--set data.size=&s \[\*s\]: YAML anchors and aliases/,
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
