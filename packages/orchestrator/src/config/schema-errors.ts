/**
 * Schema violations as `path: message` lines, worded exactly as the Python trainer words them
 * (stillmotion_trainer/schemas.py, `schema_errors`); tools/parity/config-error-cases.json holds
 * the cases both sides are tested against. ajv finds the violations, this module only words them.
 *
 * Wording, one line per problem, sorted, duplicates dropped:
 *   <path.key>: unknown key. Should be one of: <sorted keys>
 *   <path.key>: required key is missing
 *   <path>: must be of type <t1 or t2>, got <value>
 *   <path>: unsupported value <value>. Should be one of: <v1, v2>   (enum; const: must be <v>)
 *   <path>: must be >= | <= | > | < <limit>, got <value>
 *   <path>: must be at least | at most <n> character(s) long, got <value>
 *   <path>: must have at least | at most <n> item(s), got <value>
 * A value that must match one of several shapes (oneOf) is checked against the shape of its own
 * JSON type, so `patience: 0` inside an early_stopping object reports the minimum, not "no match".
 */
import type { ErrorObject } from "ajv";

type PathPart = string | number;
type JsonSchema = Record<string, unknown>;

/** `data.size[1]`; the root is `(root)`. */
export function jsonPath(parts: PathPart[]): string {
  let out = "";
  for (const p of parts) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out || "(root)";
}

/** The JSON type name of a value, as the schema's `type` keyword names it. */
export function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function schemaTypes(schema: JsonSchema): string[] {
  const type = schema.type;
  return type === undefined ? [] : Array.isArray(type) ? (type as string[]) : [type as string];
}

/** Whether `value` has one of the JSON types the branch allows (an integer is a number too). */
function typeFits(schema: JsonSchema, value: unknown): boolean {
  const actual = jsonType(value);
  return schemaTypes(schema).some((t) => t === actual || (t === "number" && actual === "integer"));
}

/** A JSON Pointer (`/data/size/1`) as path parts, array indices as numbers. */
function pointerParts(pointer: string, root: unknown): PathPart[] {
  const parts: PathPart[] = [];
  let node = root;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const part = Array.isArray(node) ? Number(key) : key;
    parts.push(part);
    node = (node as Record<PathPart, unknown> | undefined)?.[part];
  }
  return parts;
}

const BOUNDS: Record<string, string> = {
  minimum: ">=",
  maximum: "<=",
  exclusiveMinimum: ">",
  exclusiveMaximum: "<",
};

const show = (value: unknown) => JSON.stringify(value);

/** One ajv error in the shared wording (several lines for additionalProperties never occur). */
function describe(error: ErrorObject, root: unknown): string {
  const path = pointerParts(error.instancePath, root);
  const where = jsonPath(path);
  const got = `, got ${show(error.data)}`;
  const limit = (error.params as { limit?: number }).limit;
  switch (error.keyword) {
    case "additionalProperties": {
      const allowed = Object.keys((error.parentSchema?.properties as JsonSchema | undefined) ?? {}).sort();
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      return `${jsonPath([...path, key])}: unknown key. Should be one of: ${allowed.join(", ")}`;
    }
    case "required":
      return `${jsonPath([...path, (error.params as { missingProperty: string }).missingProperty])}: required key is missing`;
    case "type":
      return `${where}: must be of type ${schemaTypes(error.parentSchema as JsonSchema).join(" or ")}${got}`;
    case "enum":
      return `${where}: unsupported value ${show(error.data)}. Should be one of: ${(error.schema as unknown[]).map(show).join(", ")}`;
    case "const":
      return `${where}: must be ${show(error.schema)}${got}`;
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return `${where}: must be ${BOUNDS[error.keyword]} ${show(limit)}${got}`;
    case "minLength":
    case "maxLength":
      return `${where}: must be ${error.keyword === "minLength" ? "at least" : "at most"} ${limit} character(s) long${got}`;
    case "minItems":
    case "maxItems":
      return `${where}: must have ${error.keyword === "minItems" ? "at least" : "at most"} ${limit} item(s)${got}`;
    case "oneOf": {
      const types = (error.schema as JsonSchema[]).flatMap(schemaTypes);
      return `${where}: must be of type ${types.join(" or ")}${got}`;
    }
    default:
      return `${where}: ${error.message}${got}`;
  }
}

/**
 * The lines for ajv's errors (ajv must run with allErrors and verbose). In a failed oneOf only
 * the errors of the branch whose type fits the value are kept; with no such branch, the oneOf
 * error itself says which types are allowed.
 */
export function describeSchemaErrors(errors: ErrorObject[], root: unknown): string[] {
  const dropped = new Set<ErrorObject>();
  for (const error of errors) {
    if (error.keyword !== "oneOf") continue;
    const branches = error.schema as JsonSchema[];
    const fits = branches.findIndex((branch) => typeFits(branch, error.data));
    const inBranch = (e: ErrorObject, i: number) => e.schemaPath.startsWith(`${error.schemaPath}/${i}/`);
    for (const e of errors) {
      if (e === error) continue;
      const kept = fits >= 0 && inBranch(e, fits);
      if (!kept && branches.some((_, i) => inBranch(e, i))) dropped.add(e);
    }
    if (fits >= 0) dropped.add(error);
  }
  const lines = errors.filter((e) => !dropped.has(e)).map((e) => describe(e, root));
  return [...new Set(lines)].sort();
}
