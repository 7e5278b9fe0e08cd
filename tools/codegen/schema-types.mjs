#!/usr/bin/env node
/**
 * TypeScript types from a JSON Schema (draft 2020-12), for the subset the project's schemas use:
 * objects (properties, required, additionalProperties: false), arrays, $ref to #/$defs, const,
 * enum, oneOf, type lists (["integer", "null"]) and the primitive types. Anything else is refused
 * rather than typed loosely, so a schema that grows a new construct fails here instead of
 * producing a wrong type.
 *
 * Usage: node tools/codegen/schema-types.mjs <schema.json> <out.ts> <RootName>
 *          [--defaults-applied] [--def-suffix <Suffix>]
 * --defaults-applied types the value after validation filled in the schema's defaults (ajv's
 * useDefaults): a property with a `default` is then always present. ajv leaves defaults inside
 * oneOf branches alone, so those stay optional. --def-suffix names $defs types `<Def><Suffix>`
 * (train -> TrainConfig), matching the Python dataclasses.
 * No generator ships in node_modules (json-schema-to-typescript is not installed), and this
 * subset is small enough that a page of code beats a new dependency.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const KNOWN = new Set([
  "$schema",
  "$id",
  "$defs",
  "$ref",
  "title",
  "description",
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "const",
  "enum",
  "oneOf",
  // Documentation, and with --defaults-applied a property that is always present.
  "default",
  // Value constraints: checked by the validator (ajv), not expressible as TS types.
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "minItems",
  "maxItems",
  "dependentRequired",
]);

const PRIMITIVE = { string: "string", number: "number", integer: "number", boolean: "boolean", null: "null" };

const [schemaFile, outFile, rootName, ...flags] = process.argv.slice(2);
if (!schemaFile || !outFile || !rootName) {
  console.error(
    "usage: schema-types.mjs <schema.json> <out.ts> <RootName> [--defaults-applied] [--def-suffix S]",
  );
  process.exit(2);
}
const defaultsApplied = flags.includes("--defaults-applied");
const defSuffix = flags.includes("--def-suffix") ? flags[flags.indexOf("--def-suffix") + 1] : "";

/** "imagePath" -> "ImagePath" (+ the --def-suffix): $defs names become type names. */
function typeName(name) {
  return name[0].toUpperCase() + name.slice(1) + defSuffix;
}

function jsdoc(text, indent) {
  if (!text) return "";
  return `${indent}/** ${text.replace(/\*\//g, "*\\/")} */\n`;
}

/** `defaulted`: whether ajv fills in defaults here (it does not inside oneOf branches). */
function typeOf(schema, where, defaulted = defaultsApplied, indent = "") {
  for (const key of Object.keys(schema)) {
    if (!KNOWN.has(key))
      throw new Error(`${where}: schema keyword '${key}' is not supported by schema-types`);
  }
  if (schema.$ref) {
    const match = /^#\/\$defs\/([A-Za-z0-9_]+)$/.exec(schema.$ref);
    if (!match) throw new Error(`${where}: only local #/$defs/ references are supported (${schema.$ref})`);
    return typeName(match[1]);
  }
  if ("const" in schema) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.oneOf) {
    const branches = schema.oneOf.map((branch, i) =>
      wrap(typeOf(branch, `${where}.oneOf[${i}]`, false, indent)),
    );
    return [...new Set(branches)].join(" | ");
  }
  if (Array.isArray(schema.type)) {
    return schema.type.map((type) => typeOf({ ...schema, type }, where, defaulted, indent)).join(" | ");
  }
  if (schema.type === "array")
    return `${wrap(typeOf(schema.items ?? {}, `${where}.items`, defaulted, indent))}[]`;
  if (schema.type === "object") return objectType(schema, where, indent, defaulted);
  if (PRIMITIVE[schema.type]) return PRIMITIVE[schema.type];
  if (schema.type === undefined) return "unknown";
  throw new Error(`${where}: type '${schema.type}' is not supported`);
}

/** Parenthesise unions before appending [] so "a" | "b" becomes ("a" | "b")[]. */
function wrap(type) {
  return type.includes(" | ") ? `(${type})` : type;
}

function objectType(schema, where, indent, defaulted) {
  if (!schema.properties) return "Record<string, unknown>";
  const required = new Set(schema.required ?? []);
  const lines = Object.entries(schema.properties).map(([name, prop]) => {
    const present = required.has(name) || (defaulted && "default" in prop);
    const optional = present ? "" : "?";
    const body = typeOf(prop, `${where}.${name}`, defaulted, `${indent}  `);
    return `${jsdoc(prop.description, `${indent}  `)}${indent}  ${name}${optional}: ${body};`;
  });
  return `{\n${lines.join("\n")}\n${indent}}`;
}

function declaration(name, schema, where) {
  const doc = jsdoc(schema.title ?? schema.description, "");
  if (schema.type === "object" && schema.properties) {
    return `${doc}export interface ${name} ${objectType(schema, where, "", defaultsApplied)}\n`;
  }
  return `${doc}export type ${name} = ${typeOf(schema, where)};\n`;
}

const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
const parts = [
  `// @generated by tools/codegen/schema-types.mjs from ${path.basename(schemaFile)} — DO NOT EDIT\n`,
  ...(defaultsApplied
    ? ["// The value after validation filled in the schema's defaults (ajv useDefaults).\n"]
    : []),
  declaration(rootName, schema, rootName),
  ...Object.entries(schema.$defs ?? {}).map(([name, def]) => declaration(typeName(name), def, name)),
];
writeFileSync(outFile, parts.join("\n"));
