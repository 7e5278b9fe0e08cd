/**
 * Training run config: read YAML or JSON, apply `--set key.path=value` overrides
 * (set-override.ts), validate against schemas/train-config.v1.schema.json (the file the Python
 * trainer validates with) and fill in the schema's defaults, so callers get a typed `RunConfig`
 * with every defaulted key present. Errors are `path: message` lines worded as Python words them.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import YAML from "yaml";
import { Code, StillMotionError } from "../errors.js";
import { schemaPath } from "../repo-paths.js";
import { ConfigError } from "./config-error.js";
import type { RunConfig } from "./gen/train-config.v1.js";
import { describeSchemaErrors, jsonPath } from "./schema-errors.js";
import { applyOverride } from "./set-override.js";

export { ConfigError } from "./config-error.js";
export type * from "./gen/train-config.v1.js";
export { applyOverride, parseOverride, SetOverrideError } from "./set-override.js";

let validator: ReturnType<Ajv2020["compile"]> | undefined;
/** ajv with useDefaults: a valid config comes out with the schema's defaults filled in. */
function validate(): ReturnType<Ajv2020["compile"]> {
  if (!validator) {
    const schema = JSON.parse(readFileSync(schemaPath("train-config.v1.schema.json"), "utf8"));
    validator = new Ajv2020({ allErrors: true, verbose: true, useDefaults: true, strict: false }).compile(
      schema,
    );
  }
  return validator;
}

/**
 * `value` copied as a plain tree. YAML aliases make shared or cyclic objects: shared ones are
 * copied apart (an override of one place must not change another), a cycle (an alias inside its
 * own anchor) has no JSON form and is refused, naming where it closes; so are NaN and infinities
 * (YAML's .nan and .inf), which every range check of the schema would let through.
 */
function toTree(value: unknown, path: (string | number)[], ancestors = new Set<object>()): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new Error(`${jsonPath(path)}: ${value} is not a finite number (JSON has no NaN or Infinity)`);
  }
  if (value === null || typeof value !== "object") return value;
  if (ancestors.has(value)) {
    throw new Error(`${jsonPath(path)}: a YAML alias repeats a mapping or list inside itself (a cycle)`);
  }
  ancestors.add(value);
  const copy = Array.isArray(value)
    ? value.map((item, i) => toTree(item, [...path, i], ancestors))
    : Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, toTree(item, [...path, key], ancestors)]),
      );
  ancestors.delete(value);
  return copy;
}

/** The raw mapping of a .yaml/.yml or JSON file (not validated yet). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new StillMotionError(Code.NOT_FOUND, `${path}: cannot read config (${(err as Error).message})`);
  }
  try {
    const parsed = [".yaml", ".yml"].includes(extname(path).toLowerCase())
      ? YAML.parse(text)
      : JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("the top level must be a mapping");
    }
    return toTree(parsed, []) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([`(file): cannot parse: ${(err as Error).message}`], path);
  }
}

/**
 * Schema errors as `path: message` lines (empty when valid). Fills in the schema's defaults in
 * `config` as it goes (ajv useDefaults), so a config without errors is a complete RunConfig.
 */
export function configErrors(config: unknown): string[] {
  const check = validate();
  if (check(config)) return [];
  return describeSchemaErrors(check.errors ?? [], config);
}

/** Reads, overrides and validates a run config; throws ConfigError listing every problem. */
export function loadRunConfig(path: string, overrides: string[] = []): RunConfig {
  const config = readConfigFile(path);
  for (const item of overrides) applyOverride(config, item);
  const errors = configErrors(config);
  if (errors.length) throw new ConfigError(errors, path);
  return config as unknown as RunConfig;
}
