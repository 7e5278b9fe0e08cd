/**
 * Training run config: read YAML or JSON, apply `--set key.path=value` overrides, validate
 * against schemas/train-config.v1.schema.json (the same file the Python trainer validates with).
 * Errors are `path: message` strings naming the key, the value and what is allowed.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import YAML from "yaml";
import { Code, StillMotionError } from "../errors.js";
import { schemaPath } from "../repo-paths.js";

export type RunConfig = Record<string, unknown> & { data: { dataset: string } & Record<string, unknown> };

export class ConfigError extends StillMotionError {
  constructor(
    readonly errors: string[],
    readonly source: string,
  ) {
    super(Code.INVALID_ARGUMENT, `${source}: invalid config\n  ${errors.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

let validator: ReturnType<Ajv2020["compile"]> | undefined;
function validate(): ReturnType<Ajv2020["compile"]> {
  if (!validator) {
    const schema = JSON.parse(readFileSync(schemaPath("train-config.v1.schema.json"), "utf8"));
    validator = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  }
  return validator;
}

/**
 * `value` copied as a plain tree. YAML aliases make shared or cyclic objects: shared ones are
 * copied apart (an override of one place must not change another), a cycle (an alias inside its
 * own anchor) has no JSON form and is refused, naming where it closes.
 */
function toTree(value: unknown, path: string, ancestors = new Set<object>()): unknown {
  if (value === null || typeof value !== "object") return value;
  if (ancestors.has(value)) {
    throw new Error(`${path || "(root)"}: a YAML alias repeats a mapping or list inside itself (a cycle)`);
  }
  ancestors.add(value);
  const copy = Array.isArray(value)
    ? value.map((item, i) => toTree(item, `${path}[${i}]`, ancestors))
    : Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
          key,
          toTree(item, path ? `${path}.${key}` : key, ancestors),
        ]),
      );
  ancestors.delete(value);
  return copy;
}

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
    return toTree(parsed, "") as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([`(file): cannot parse: ${(err as Error).message}`], path);
  }
}

/**
 * `value` as YAML scalar rules read it: numbers, booleans, null, [lists], or a string. Throws
 * (a plain Error) on a value whose aliases make a cycle.
 */
export function parseOverrideValue(text: string): unknown {
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch {
    return text;
  }
  return toTree(value, "");
}

/** Names that would reach Object.prototype (every object of the CLI) instead of the config. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Applies one `key.path=value` override in place. */
export function applyOverride(config: Record<string, unknown>, item: string): void {
  const eq = item.indexOf("=");
  if (eq <= 0) throw new ConfigError([`--set ${item}: expected key.path=value`], "--set");
  const path = item.slice(0, eq).split(".");
  const bad = path.find((key) => key === "" || UNSAFE_KEYS.has(key));
  if (bad !== undefined) {
    const why = bad === "" ? "a key in the path is empty" : `"${bad}" cannot be a config key`;
    throw new ConfigError([`--set ${item}: ${why}`], "--set");
  }
  let node: Record<string, unknown> = config;
  for (const key of path.slice(0, -1)) {
    // Own keys only: an inherited one (toString, valueOf) is not a section of the config.
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new ConfigError([`--set ${item}: ${key} is not a section`], "--set");
    }
    node = node[key] as Record<string, unknown>;
  }
  try {
    node[path[path.length - 1]] = parseOverrideValue(item.slice(eq + 1));
  } catch (err) {
    throw new ConfigError([`--set ${item}: ${(err as Error).message}`], "--set");
  }
}

function describe(error: ErrorObject, config: unknown): string {
  const path = error.instancePath.split("/").slice(1).join(".") || "(root)";
  const value = error.instancePath
    .split("/")
    .slice(1)
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
  const shown = value === undefined ? "" : `, got ${JSON.stringify(value)}`;
  switch (error.keyword) {
    case "additionalProperties":
      return `${path === "(root)" ? "" : `${path}.`}${error.params.additionalProperty}: unknown key`;
    case "enum":
      return `${path}: must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}${shown}`;
    case "required":
      return `${path === "(root)" ? "" : `${path}.`}${error.params.missingProperty}: required`;
    default:
      return `${path}: ${error.message}${shown}`;
  }
}

/** Schema errors as `path: message` strings (empty when valid). */
export function configErrors(config: unknown): string[] {
  const check = validate();
  if (check(config)) return [];
  const seen = new Set<string>();
  for (const e of check.errors ?? [])
    if (e.keyword !== "oneOf" && e.keyword !== "if") seen.add(describe(e, config));
  return [...seen];
}

/** Reads, overrides and validates a run config; throws ConfigError listing every problem. */
export function loadRunConfig(path: string, overrides: string[] = []): RunConfig {
  const config = readConfigFile(path);
  for (const item of overrides) applyOverride(config, item);
  const errors = configErrors(config);
  if (errors.length) throw new ConfigError(errors, path);
  return config as RunConfig;
}
