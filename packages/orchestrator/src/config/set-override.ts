/**
 * The one `--set key.path=value` grammar, shared with the Python trainer
 * (stillmotion_trainer/training/set_override.py); tools/parity/set-grammar-cases.json holds the
 * cases both sides are tested against.
 *
 * - key.path: dot-separated keys of letters, digits, `_`, `-` and `$`; never `__proto__`,
 *   `constructor` or `prototype` (they would reach Object.prototype, not the config).
 * - value: one line of YAML 1.2, core schema, flow style: `1e-3` and `0x1F` are numbers,
 *   `true`/`False` booleans, `null`/`~`/nothing null, `[1, 2]` a list, `{a: 1}` a mapping,
 *   anything else (or anything quoted) a string. `yes`/`on` stay strings (that was YAML 1.1).
 *   Refused: anchors and aliases, tags, block lists and mappings, duplicate or non-string
 *   mapping keys, numbers JSON cannot carry exactly (inf, nan, integers past 2^53 - 1).
 *
 * The YAML library only parses (failsafe schema: every scalar a string); the scalars are resolved
 * here, by the same regular expressions as the Python side, so both read a value the same way.
 */
import YAML, { isAlias, isMap, isScalar, isSeq, type Node, Scalar } from "yaml";
import { ConfigError } from "./config-error.js";

/** Why an override was refused; the same names as Python's SetOverrideError.reason. */
export type SetOverrideReason =
  | "missing_equals"
  | "empty_key"
  | "unsafe_key"
  | "bad_key"
  | "control_character"
  | "bad_yaml"
  | "block_collection"
  | "alias"
  | "tag"
  | "duplicate_key"
  | "bad_mapping_key"
  | "not_finite"
  | "unsafe_integer"
  | "not_section";

/** Names that would reach Object.prototype (every object of the CLI) instead of the config. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const KEY = /^[A-Za-z0-9_$-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Document markers and directives: a value is one node, not a stream. */
const STREAM_SYNTAX = /^\s*(%|(---|\.\.\.)(\s|$))/;

// YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), for plain scalars.
const NULL = /^(null|Null|NULL|~|)$/;
const TRUE = /^(true|True|TRUE)$/;
const FALSE = /^(false|False|FALSE)$/;
const INT10 = /^[-+]?[0-9]+$/;
const INT8 = /^0o[0-7]+$/;
const INT16 = /^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INF_OR_NAN = /^([-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** A refused override: `--set <item>: <why>`, with the reason as a stable key. */
export class SetOverrideError extends ConfigError {
  constructor(item: string, why: string, reason: SetOverrideReason) {
    // An item with a newline or another control character is shown quoted, so it stays one line.
    super([`--set ${CONTROL.test(item) ? JSON.stringify(item) : item}: ${why}`], "--set", reason);
    this.name = "SetOverrideError";
  }
}

export interface ParsedOverride {
  path: string[];
  value: unknown;
}

/** A refusal found while reading the value, before the item is known to the message. */
class ValueProblem extends Error {
  constructor(
    readonly why: string,
    readonly reason: SetOverrideReason,
  ) {
    super(why);
  }
}

/** `key.path=value` split and read; throws SetOverrideError naming the item and the problem. */
export function parseOverride(item: string): ParsedOverride {
  const eq = item.indexOf("=");
  if (eq < 0)
    throw new SetOverrideError(item, "expected key.path=value, e.g. train.lr=0.0005", "missing_equals");
  const path = item.slice(0, eq).split(".");
  for (const key of path) {
    if (key === "") throw new SetOverrideError(item, "a key in the path is empty", "empty_key");
    if (UNSAFE_KEYS.has(key))
      throw new SetOverrideError(item, `"${key}" cannot be a config key`, "unsafe_key");
    if (!KEY.test(key)) {
      throw new SetOverrideError(
        item,
        `${JSON.stringify(key)} is not a config key (letters, digits, _, - and $ only)`,
        "bad_key",
      );
    }
  }
  try {
    return { path, value: parseOverrideValue(item.slice(eq + 1)) };
  } catch (err) {
    if (err instanceof ValueProblem) throw new SetOverrideError(item, err.why, err.reason);
    throw err;
  }
}

/** One `--set` value read by the grammar above (throws ValueProblem, wrapped by the caller). */
function parseOverrideValue(text: string): unknown {
  if (CONTROL.test(text)) {
    throw new ValueProblem(
      "the value must be one line of text without control characters",
      "control_character",
    );
  }
  const doc = YAML.parseDocument(text, { version: "1.2", schema: "failsafe", uniqueKeys: false });
  if (doc.errors.length || STREAM_SYNTAX.test(text)) {
    throw new ValueProblem(
      "cannot be read as YAML (an unbalanced bracket or quote, or a character YAML reserves); quote the string",
      "bad_yaml",
    );
  }
  return resolveNode(doc.contents);
}

function resolveNode(node: Node | null): unknown {
  if (node === null) return null;
  if (isAlias(node) || node.anchor) {
    throw new ValueProblem(
      "YAML anchors and aliases (& and *) are not allowed; quote a string that starts with & or *",
      "alias",
    );
  }
  if (node.tag) {
    throw new ValueProblem("YAML tags (!) are not allowed; quote a string that starts with !", "tag");
  }
  if (isScalar(node)) {
    const text = String(node.value ?? "");
    return node.type === Scalar.PLAIN ? resolvePlain(text) : text;
  }
  if ((isSeq(node) || isMap(node)) && !node.flow) {
    throw new ValueProblem(
      'write a list as [a, b] and a mapping as {key: value}; quote a string that contains ": " or starts with "- "',
      "block_collection",
    );
  }
  if (isSeq(node)) return node.items.map((item) => resolveNode(item as Node | null));
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = resolveNode(pair.key as Node | null);
      if (typeof key !== "string") {
        throw new ValueProblem(`mapping keys must be strings, got ${JSON.stringify(key)}`, "bad_mapping_key");
      }
      if (UNSAFE_KEYS.has(key)) throw new ValueProblem(`"${key}" cannot be a config key`, "unsafe_key");
      if (Object.hasOwn(out, key)) {
        throw new ValueProblem(`the key "${key}" appears twice in one mapping`, "duplicate_key");
      }
      out[key] = resolveNode(pair.value as Node | null);
    }
    return out;
  }
  throw new ValueProblem("cannot be read as YAML", "bad_yaml");
}

/** A plain (unquoted) scalar by the YAML 1.2 core schema; JSON-safe numbers only. */
function resolvePlain(text: string): unknown {
  if (NULL.test(text)) return null;
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  if (INF_OR_NAN.test(text)) throw new ValueProblem(`${text} is not a finite number`, "not_finite");
  if (INT10.test(text) || INT8.test(text) || INT16.test(text)) {
    const value = BigInt(text.replace(/^\+/, ""));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ValueProblem(
        `${text} is not an exact integer in JSON (beyond ±${Number.MAX_SAFE_INTEGER})`,
        "unsafe_integer",
      );
    }
    return Number(value);
  }
  if (FLOAT.test(text)) {
    const value = Number(text);
    if (!Number.isFinite(value)) throw new ValueProblem(`${text} is not a finite number`, "not_finite");
    return value;
  }
  return text;
}

/** Applies one `key.path=value` override in place, making missing sections. */
export function applyOverride(config: Record<string, unknown>, item: string): void {
  const { path, value } = parseOverride(item);
  let node: Record<string, unknown> = config;
  path.slice(0, -1).forEach((key, i) => {
    // Own keys only: an inherited one (toString, valueOf) is not a section of the config.
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) {
      throw new SetOverrideError(item, `${path.slice(0, i + 1).join(".")} is not a section`, "not_section");
    }
    node = node[key] as Record<string, unknown>;
  });
  node[path[path.length - 1]] = value;
}
