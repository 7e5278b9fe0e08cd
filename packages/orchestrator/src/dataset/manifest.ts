/**
 * Read and validate a StillMotion dataset manifest (docs/dataset-format.md). Mirrors
 * stillmotion_trainer/data/manifest.py: the JSON Schema (ajv), then the rules a schema cannot
 * express, in the same order and with the same reason codes.
 */
import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { schemaPath } from "../repo-paths.js";
import { assertInsideDataset } from "./containment.js";
import { DatasetError } from "./errors.js";
import type { DatasetManifest, Frame, Video } from "./gen/dataset-manifest.v1.js";

export const FORMAT = "stillmotion-dataset";
export const VERSION = 1;
export const MANIFEST_NAME = "manifest.json";
/** Width x height above this is refused (same limit as Python's MAX_PIXELS). */
export const MAX_PIXELS = 8192 * 8192;
export const SCHEMA_NAME = "dataset-manifest.v1.schema.json";

// The manifest's types are generated from the JSON Schema (tools/codegen/schema-types.mjs), so
// the schema is the one place the format is written down.
/** manifest.json's content. */
export type ManifestData = DatasetManifest;
export type VideoEntry = Video;
/** One frame as written in manifest.json. */
export type FrameEntry = Frame;
export type Modality = DatasetManifest["modality"];
export type KeySource = NonNullable<Frame["keySource"]>;

/** A validated manifest and where it lives; paths in `data` are relative to `root`. */
export interface Manifest {
  root: string;
  file: string;
  data: ManifestData;
}

let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(schemaPath(SCHEMA_NAME), "utf8"));
    validator = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
  }
  return validator;
}

/** Why `value` is not an acceptable manifest path, or undefined when it is (Python: path_problem). */
export function pathProblem(value: string): string | undefined {
  if (value.startsWith("/")) return "absolute paths are not allowed";
  if (/^[A-Za-z]:/.test(value)) return "drive-letter (absolute) paths are not allowed";
  if (value.includes("\\")) return "backslashes are not allowed; use '/'";
  const parts = value.split("/");
  if (parts.includes(".."))
    return "'..' segments are not allowed (paths must stay inside the dataset folder)";
  if (parts.includes(".") || parts.includes("")) return "empty or '.' segments are not allowed";
  return undefined;
}

/** JSON location as `videos[0].frames[3].image`. */
export function where(parts: ReadonlyArray<string | number>): string {
  let out = "";
  for (const p of parts) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out || "(root)";
}

const PATH_KEYS = ["image", "keyMask", "gtMask"] as const;

/** (location, value) of every path string, tolerating a malformed document. */
function* framePaths(data: unknown): Generator<[Array<string | number>, string]> {
  const videos = isObject(data) ? data.videos : undefined;
  if (!Array.isArray(videos)) return;
  for (const [vi, video] of videos.entries()) {
    const frames = isObject(video) ? video.frames : undefined;
    if (!Array.isArray(frames)) continue;
    for (const [fi, frame] of frames.entries()) {
      if (!isObject(frame)) continue;
      for (const key of PATH_KEYS) {
        const value = frame[key];
        if (typeof value === "string") yield [["videos", vi, "frames", fi, key], value];
      }
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function preSchemaRules(data: unknown, file: string): void {
  if (!isObject(data)) throw new DatasetError("invalid_manifest", file, "manifest must be a JSON object");
  if (data.format === FORMAT && data.version !== VERSION) {
    throw new DatasetError(
      "unsupported_version",
      file,
      `version ${JSON.stringify(data.version)} is not supported; this reader knows ${VERSION}`,
    );
  }
  for (const [loc, value] of framePaths(data)) {
    const problem = pathProblem(value);
    if (problem) throw new DatasetError("unsafe_path", file, `${where(loc)} = '${value}': ${problem}`);
  }
  if (Array.isArray(data.videos)) {
    for (const [vi, video] of data.videos.entries()) {
      if (isObject(video) && Array.isArray(video.frames) && video.frames.length === 0) {
        throw new DatasetError("empty_video", file, `videos[${vi}] (id '${video.id ?? vi}') has no frames`);
      }
    }
  }
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperty" || p.additionalProperty !== undefined)
    return `${e.message} ('${p.additionalProperty}' was unexpected)`;
  if (p.allowedValues)
    return `${e.message}: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  if (p.allowedValue !== undefined) return `${e.message}: ${JSON.stringify(p.allowedValue)}`;
  return e.message ?? e.keyword;
}

function schemaRules(data: unknown, file: string): void {
  const validate = schemaValidator();
  if (validate(data)) return;
  const toParts = (e: ErrorObject) =>
    e.instancePath
      .split("/")
      .slice(1)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replaceAll("~1", "/").replaceAll("~0", "~")));
  const errors = [...(validate.errors ?? [])].sort((a, b) =>
    toParts(a).map(String).join("\u0000") < toParts(b).map(String).join("\u0000") ? -1 : 1,
  );
  const first = errors[0];
  const loc = toParts(first);
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem(s))` : "";
  const last = loc[loc.length - 1];
  const reason = last === "width" || last === "height" ? "bad_dimensions" : "invalid_manifest";
  throw new DatasetError(reason, file, `${where(loc)}: ${describe(first)}${more}`);
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function postSchemaRules(data: ManifestData, root: string, file: string): Promise<void> {
  const ids = new Set<string>();
  const images = new Map<string, string>();
  for (const [vi, video] of data.videos.entries()) {
    if (ids.has(video.id))
      throw new DatasetError("duplicate_id", file, `videos[${vi}].id '${video.id}' repeats`);
    ids.add(video.id);
    if (video.width * video.height > MAX_PIXELS) {
      throw new DatasetError(
        "bad_dimensions",
        file,
        `videos[${vi}] is ${video.width}x${video.height}: more than ${MAX_PIXELS} pixels per frame`,
      );
    }
    for (const [fi, frame] of video.frames.entries()) {
      const loc = `videos[${vi}].frames[${fi}].image`;
      const seen = images.get(frame.image);
      if (seen) throw new DatasetError("duplicate_path", file, `${loc} = '${frame.image}' is also ${seen}`);
      images.set(frame.image, loc);
    }
  }
  for (const [loc, value] of framePaths(data)) {
    const full = path.join(root, value);
    if (!(await isFile(full))) {
      throw new DatasetError("missing_file", full, `file not found (referenced by ${where(loc)} in ${file})`);
    }
    await assertInsideDataset(root, value);
  }
}

/**
 * Validate manifest content already parsed; `file` names it in errors, `root` is the dataset
 * folder the paths are relative to. Checks files exist; does not decode pixels.
 */
export async function validateManifest(data: unknown, root: string, file: string): Promise<ManifestData> {
  preSchemaRules(data, file);
  schemaRules(data, file);
  await postSchemaRules(data as ManifestData, root, file);
  return data as ManifestData;
}

/** manifest.json inside `p` when `p` is a folder, else `p` itself. */
export async function manifestLocation(p: string): Promise<string> {
  try {
    if ((await stat(p)).isDirectory()) return path.join(p, MANIFEST_NAME);
  } catch {
    // not there: reported by loadManifest
  }
  return p;
}

/** Load and validate a dataset; `p` is the dataset folder or its manifest.json. */
export async function loadManifest(p: string): Promise<Manifest> {
  const file = await manifestLocation(p);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new DatasetError("missing_file", file, "dataset manifest not found", { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new DatasetError("invalid_manifest", file, `not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  const root = path.dirname(file);
  return { root, file, data: await validateManifest(data, root, file) };
}

/** Indices of a video's frames that carry a key mask. */
export function keyIndices(video: VideoEntry): number[] {
  return video.frames.flatMap((f, i) => (f.keyMask ? [i] : []));
}
