/**
 * Bad-input suite, surface "configs and --set": run configs that are missing, not YAML, cyclic,
 * out of schema, or wrong for the data, and --set overrides that are malformed or reach for the
 * prototype. Each case: non-zero exit, one line `stillmotion: CODE: message` naming the file or
 * field, and no run directory left behind.
 */
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { caseDir, expectFailure, runCli, useSharedFixture } from "./harness.js";

const fx = useSharedFixture();

const yaml = (text: string) => ({ text });
const json = (edit: (config: Record<string, Record<string, unknown>>) => void) => ({ edit });

// [case, config file (YAML text, or an edit of the fixture's config), --set overrides, code, names]
const cases: Array<
  [
    string,
    { text?: string; edit?: (c: Record<string, Record<string, unknown>>) => void },
    string[],
    string,
    string,
  ]
> = [
  ["not YAML", yaml("data: [unclosed\n  size: 16\n"), [], "INVALID_ARGUMENT", "config.yaml"],
  ["YAML alias cycle", yaml("a: &x\n  b: *x\n"), [], "INVALID_ARGUMENT", "config.yaml"],
  ["a list, not a mapping", yaml("- 1\n- 2\n"), [], "INVALID_ARGUMENT", "config.yaml"],
  [
    "unknown key",
    json((c) => Object.assign(c.train, { learning_rate: 1 })),
    [],
    "INVALID_ARGUMENT",
    "learning_rate",
  ],
  ["negative lr", json(() => undefined), ["train.lr=-1"], "INVALID_ARGUMENT", "train.lr"],
  ["string where a number goes", json(() => undefined), ["data.size=abc"], "INVALID_ARGUMENT", "data.size"],
  ["--set without =", json(() => undefined), ["data.size"], "INVALID_ARGUMENT", "data.size"],
  ["--set __proto__", json(() => undefined), ["__proto__.polluted=1"], "INVALID_ARGUMENT", "__proto__"],
  ["--set empty key", json(() => undefined), ["train..lr=1"], "INVALID_ARGUMENT", "train..lr"],
  [
    "missing dataset",
    json((c) => Object.assign(c.data, { dataset: "/nonexistent/ds" })),
    [],
    "NOT_FOUND",
    "/nonexistent/ds",
  ],
  // Passes the schema; the trainer finds the clips longer than every video (6 frames).
  [
    "clip_len longer than every video",
    json(() => undefined),
    ["data.clip_len=1000"],
    "FAILED_PRECONDITION",
    "clip_len",
  ],
];

describe("configs and --set: train", () => {
  it.concurrent.each(cases)("%s", async (name, source, sets, code, names) => {
    const dir = caseDir(fx, `config-${name}`);
    let file: string;
    if (source.text !== undefined) {
      file = join(dir, "config.yaml");
      writeFileSync(file, source.text);
    } else {
      const config = structuredClone(fx.config) as Record<string, Record<string, unknown>>;
      source.edit?.(config);
      file = join(dir, "config.json");
      writeFileSync(file, JSON.stringify(config));
    }
    const runDir = join(dir, "run");
    const run = await runCli([
      "train",
      "-c",
      file,
      "--run-dir",
      runDir,
      ...sets.flatMap((s) => ["--set", s]),
    ]);
    expectFailure(run, { code, names, absent: [runDir] });
  });

  it.concurrent("missing config file", async () => {
    const dir = caseDir(fx, "config-missing");
    const runDir = join(dir, "run");
    const run = await runCli(["train", "-c", join(dir, "nope.yaml"), "--run-dir", runDir]);
    expectFailure(run, { code: "NOT_FOUND", names: join(dir, "nope.yaml"), absent: [runDir] });
  });
});

// [case, sweep arguments after -c (given the case folder), code, names]: a bad override anywhere
// in a sweep is refused before the first run, naming it; the sweep used to exit 0 with a table.
const sweepCases: Array<[string, (dir: string) => string[], string, string]> = [
  [
    "--set without =",
    () => ["--set", "data.size", "--grid", "train.lr=0.001,0.0003"],
    "INVALID_ARGUMENT",
    "data.size",
  ],
  ["--set of an unknown key", () => ["--set", "train.learning_rate=1"], "INVALID_ARGUMENT", "learning_rate"],
  ["--set __proto__", () => ["--set", "__proto__.polluted=1"], "INVALID_ARGUMENT", "__proto__"],
  ["a bad value on a --grid axis", () => ["--grid", "train.lr=0.001,abc"], "INVALID_ARGUMENT", "train.lr"],
  ["a --grid axis without values", () => ["--grid", "train.lr="], "INVALID_ARGUMENT", "train.lr"],
  [
    "a bad override in a --list file",
    (dir) => {
      const list = join(dir, "list.yaml");
      writeFileSync(
        list,
        "runs:\n  - name: good\n    set: {train.lr: 0.001}\n  - name: bad\n    set: {data.size: abc}\n",
      );
      return ["--list", list];
    },
    "INVALID_ARGUMENT",
    "runs[1] (bad)",
  ],
];

describe("configs and --set: sweep", () => {
  it.concurrent.each(sweepCases)("%s", async (name, args, code, names) => {
    const dir = caseDir(fx, `sweep-${name}`);
    const root = join(dir, "sweep");
    const run = await runCli(["sweep", "-c", join(fx.root, "config.json"), "--root", root, ...args(dir)]);
    expectFailure(run, { code, names, absent: [root] });
  });

  it.concurrent("a run that fails: the sweep does not exit 0, the line names the run", async () => {
    const dir = caseDir(fx, "sweep-run-fails");
    const root = join(dir, "sweep");
    // The one run's directory already holds a run: refused (and left as it was).
    cpSync(fx.runDir, join(root, "base"), { recursive: true });
    const run = await runCli(["sweep", "-c", join(fx.root, "config.json"), "--root", root]);
    expectFailure(run, { code: "ALREADY_EXISTS", names: join(root, "base") });
    expect(run.stderr).toContain("1 of 1 sweep runs failed");
    expect(run.stdout).toMatch(/^base\s+failed: /m);
  });
});
