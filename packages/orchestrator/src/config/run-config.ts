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
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([`(file): cannot parse: ${(err as Error).message}`], path);
  }
}

/** `value` as YAML scalar rules read it: numbers, booleans, null, [lists], or a string. */
export function parseOverrideValue(text: string): unknown {
  try {
    return YAML.parse(text);
  } catch {
    return text;
  }
}

/** Applies one `key.path=value` override in place. */
export function applyOverride(config: Record<string, unknown>, item: string): void {
  const eq = item.indexOf("=");
  if (eq <= 0) throw new ConfigError([`--set ${item}: expected key.path=value`], "--set");
  const path = item.slice(0, eq).split(".");
  let node: Record<string, unknown> = config;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new ConfigError([`--set ${item}: ${key} is not a section`], "--set");
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = parseOverrideValue(item.slice(eq + 1));
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
