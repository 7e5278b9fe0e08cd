/**
 * Shared pieces of the dataset commands: the `dataset` and `dataset import` groups (each
 * command module registers itself into them, whichever registers first creates them), option
 * parsers, and how an import result is printed.
 */
import { type Command, InvalidArgumentError } from "commander";
import type { ImportResult } from "../../dataset/import-common.js";

function child(parent: Command, name: string, description: string): Command {
  return parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description);
}

/** `stillmotion dataset` */
export function datasetGroup(program: Command): Command {
  return child(program, "dataset", "import, check and describe datasets (docs/datasets.md)");
}

/** `stillmotion dataset import` */
export function importGroup(program: Command): Command {
  return child(
    datasetGroup(program),
    "import",
    "turn frames, videos, stills or DICOM cine loops into a dataset",
  );
}

export function parseNumber(name: string, min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${value}"`);
    }
    return n;
  };
}

/** A repeatable option's values in the order given (commander calls it once per occurrence). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseInteger(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}"`);
    return n;
  };
}

export function parseChannels(value: string): 1 | 3 {
  if (value !== "1" && value !== "3")
    throw new InvalidArgumentError(`channels must be 1 or 3, got "${value}"`);
  return Number(value) as 1 | 3;
}

export function parseChoice<T extends string>(name: string, allowed: readonly T[]) {
  return (value: string): T => {
    if (!allowed.includes(value as T)) {
      throw new InvalidArgumentError(
        `Unsupported ${name}: "${value}". Should be one of: ${allowed.join(", ")}`,
      );
    }
    return value as T;
  };
}

export const MODALITIES = ["endoscopy", "ultrasound"] as const;

/** Options every importer takes. */
export function addCommonImportOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--out <dataset>", "output dataset folder (new or empty)")
    .option("--name <name>", "dataset name (default: from the input)")
    .option("--modality <modality>", "endoscopy | ultrasound", parseChoice("modality", MODALITIES))
    .option("--channels <n>", "1 (grey) or 3 (RGB); default by modality", parseChannels)
    .option(
      "--mask-threshold <v>",
      "mask pixel >= v is lesion (default 128; 1 for 0/1 masks)",
      parseInteger("mask threshold", 1),
    )
    .option("--overwrite", "replace an existing dataset at --out")
    .option("--json", "print one JSON object instead of text");
}

export function printImport(result: ImportResult, json?: boolean): void {
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(
      `wrote ${result.manifest}: ${result.videos} video(s), ${result.frames} frame(s), ` +
        `${result.keyMasks} key mask(s), ${result.gtMasks} evaluation mask(s)`,
    );
  }
}
