/**
 * Sweep plans: a grid (the cartesian product of `key=v1,v2,...` axes) or an explicit list of
 * override sets, each becoming one run with a readable, filesystem-safe name.
 */
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { Code, StillMotionError } from "../errors.js";

export interface SweepRun {
  name: string;
  /** `key.path=value` overrides, as `--set` takes them. */
  overrides: string[];
}

/** `--grid train.lr=1e-3,3e-4` axes -> every combination. */
export function gridPlan(axes: string[]): SweepRun[] {
  const parsed = axes.map((axis) => {
    const eq = axis.indexOf("=");
    if (eq <= 0 || eq === axis.length - 1) {
      throw new StillMotionError(Code.INVALID_ARGUMENT, `--grid ${axis}: expected key.path=v1,v2,...`);
    }
    return { key: axis.slice(0, eq), values: axis.slice(eq + 1).split(",") };
  });
  let runs: string[][] = [[]];
  for (const { key, values } of parsed) runs = runs.flatMap((r) => values.map((v) => [...r, `${key}=${v}`]));
  return runs.map((overrides) => ({ name: runName(overrides), overrides }));
}

/** A YAML/JSON file: `runs: [{name?: str, set: {key.path: value}}]`. */
export function listPlan(file: string): SweepRun[] {
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `${file}: cannot read sweep list (${(err as Error).message})`,
    );
  }
  const runs = (doc as { runs?: unknown })?.runs;
  if (!Array.isArray(runs) || runs.length === 0) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `${file}: runs: must be a non-empty list of {name?, set}`,
    );
  }
  return runs.map((run, i) => {
    const set = (run as { set?: unknown }).set;
    if (set === null || typeof set !== "object" || Array.isArray(set)) {
      throw new StillMotionError(
        Code.INVALID_ARGUMENT,
        `${file}: runs[${i}].set: must be a mapping of key.path: value`,
      );
    }
    const overrides = Object.entries(set).map(
      ([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`,
    );
    const name = (run as { name?: unknown }).name;
    return { name: typeof name === "string" ? safeName(name) : runName(overrides), overrides };
  });
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._=-]+/g, "_").slice(0, 120);
}

/** "train.lr=3e-4,model.preset=tiny" -> "lr=3e-4_preset=tiny" */
export function runName(overrides: string[]): string {
  if (!overrides.length) return "base";
  return safeName(overrides.map((o) => o.replace(/^.*\.(?=[^.=]+=)/, "")).join("_"));
}
