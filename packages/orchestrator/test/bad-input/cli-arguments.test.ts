/**
 * Bad-input suite, surface "CLI arguments": option values commander used to pass through as NaN
 * (`--size abc` was ignored, `--restart-on-failure abc` meant no limit), sizes that would
 * allocate gigabytes, outputs that are files or already hold results, a run directory that
 * already holds a run, commander's own usage errors (unknown option or command, a missing option or
 * argument), torchrun's whole-number options, and a full disk under `train`. Each case: non-zero
 * exit, one line `stillmotion: CODE: message` naming the option or path, and nothing written where
 * the command would have written.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, caseDir, expectFailure, runCli, useSharedFixture } from "./harness.js";

const fx = useSharedFixture();

type Argv = (out: string) => string[];
const generate: (...extra: string[]) => Argv =
  (...extra) =>
  (out) => ["generate", fx.stills, "-m", fx.model, "-o", out, ...extra];
const train: (...extra: string[]) => Argv =
  (...extra) =>
  (out) => ["train", "-c", join(fx.root, "config.json"), "--run-dir", out, ...extra];

// [case, argv given the output path, expected code, what the line names]
const cases: Array<[string, Argv, string, string]> = [
  ["generate --size abc", generate("--size", "abc"), "INVALID_ARGUMENT", "--size"],
  ["generate --size 100000", generate("--size", "100000"), "INVALID_ARGUMENT", "--size"],
  ["generate --size 0", generate("--size", "0"), "INVALID_ARGUMENT", "--size"],
  ["generate --size 16.5", generate("--size", "16.5"), "INVALID_ARGUMENT", "--size"],
  ["generate --steps abc", generate("--steps", "abc"), "INVALID_ARGUMENT", "--steps"],
  ["generate --steps -1", generate("--steps", "-1"), "INVALID_ARGUMENT", "--steps"],
  ["generate --strength abc", generate("--strength", "abc"), "INVALID_ARGUMENT", "--strength"],
  ["generate --strength 0", generate("--strength", "0"), "INVALID_ARGUMENT", "--strength"],
  [
    "eval --adapt-steps abc",
    (out) => [
      "eval",
      "--checkpoint",
      fx.model,
      "--dataset",
      fx.dataset,
      "--out",
      out,
      "--adapt-steps",
      "abc",
    ],
    "INVALID_ARGUMENT",
    "--adapt-steps",
  ],
  [
    "eval --downsample abc",
    (out) => ["eval", "--checkpoint", fx.model, "--dataset", fx.dataset, "--out", out, "--downsample", "abc"],
    "INVALID_ARGUMENT",
    "--downsample",
  ],
  [
    "propagate --downsample 0",
    (out) => ["propagate", fx.dataset, "-m", fx.model, "-o", out, "--downsample", "0"],
    "INVALID_ARGUMENT",
    "--downsample",
  ],
  [
    "adapt --steps -2",
    (out) => ["adapt", "--checkpoint", fx.model, "--dataset", fx.dataset, "--out", out, "--steps", "-2"],
    "INVALID_ARGUMENT",
    "--steps",
  ],
  [
    "train --restart-on-failure abc",
    train("--restart-on-failure", "abc"),
    "INVALID_ARGUMENT",
    "--restart-on-failure",
  ],
  [
    "train --restart-on-failure -1",
    train("--restart-on-failure", "-1"),
    "INVALID_ARGUMENT",
    "--restart-on-failure",
  ],
  [
    "propagate --fusion bogus",
    (out) => ["propagate", fx.dataset, "-m", fx.model, "-o", out, "--fusion", "bogus"],
    "INVALID_ARGUMENT",
    "--fusion",
  ],
  // torchrun's options: Number() passed `abc` on as NaN (one process, silently) and 1.5 to torchrun.
  ["train --nproc abc", train("--nproc", "abc"), "INVALID_ARGUMENT", "--nproc"],
  ["train --nproc 1.5", train("--nproc", "1.5"), "INVALID_ARGUMENT", "--nproc"],
  ["train --nproc 0", train("--nproc", "0"), "INVALID_ARGUMENT", "--nproc"],
  ["train --nnodes two", train("--nnodes", "two"), "INVALID_ARGUMENT", "--nnodes"],
  ["train --node-rank 0.5", train("--node-rank", "0.5"), "INVALID_ARGUMENT", "--node-rank"],
  [
    "train --node-rank not below --nnodes",
    train("--nnodes", "2", "--node-rank", "2"),
    "INVALID_ARGUMENT",
    "--node-rank",
  ],
  ["train --master-port 70000", train("--master-port", "70000"), "INVALID_ARGUMENT", "--master-port"],
  ["train --master-port abc", train("--master-port", "abc"), "INVALID_ARGUMENT", "--master-port"],
  // commander's usage errors: its own text was the message, a blank line and the whole help.
  ["unknown option", train("--bogus"), "INVALID_ARGUMENT", "--bogus"],
  ["misspelt option", generate("--step", "2"), "INVALID_ARGUMENT", "--step"],
  ["missing required option", (out) => ["train", "--run-dir", out], "INVALID_ARGUMENT", "--config"],
  ["missing argument", (out) => ["export", "--out", out], "INVALID_ARGUMENT", "runDir"],
  ["option without its value", train("--restart-on-failure"), "INVALID_ARGUMENT", "--restart-on-failure"],
  [
    "unknown command",
    (out) => ["trian", "-c", join(fx.root, "config.json"), "--run-dir", out],
    "INVALID_ARGUMENT",
    "trian",
  ],
  ["unknown subcommand", (out) => ["runs", "shwo", out], "INVALID_ARGUMENT", "shwo"],
  [
    "generate from a missing folder",
    (out) => ["generate", join(fx.root, "no-such-stills"), "-m", fx.model, "-o", out],
    "NOT_FOUND",
    "no-such-stills",
  ],
  [
    "propagate from a missing dataset",
    (out) => ["propagate", join(fx.root, "no-such-dataset"), "-m", fx.model, "-o", out],
    "NOT_FOUND",
    "no-such-dataset",
  ],
];

describe("CLI arguments", () => {
  it.concurrent.each(cases)("%s", async (name, argv, code, names) => {
    const out = join(caseDir(fx, `args-${name}`), "out");
    const run = await runCli(argv(out));
    expectFailure(run, { code, names, absent: [out] });
  });

  it.concurrent("--help is still commander's full help, exit 0", async () => {
    const run = await runCli(["train", "--help"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Usage: stillmotion train \[options\]\n/);
    expect(run.stdout).toContain("--nproc <n>");
    expect(run.stdout).toContain("Ctrl-C once");
    expect(run.stderr).toBe("");
  });

  it.concurrent("--out is a file", async () => {
    const out = join(caseDir(fx, "args-out-file"), "out");
    writeFileSync(out, "mine\n");
    const run = await runCli(generate("--steps", "2")(out));
    expectFailure(run, { code: "INVALID_ARGUMENT", names: out });
    expect(readFileSync(out, "utf8")).toBe("mine\n");
  });

  it.concurrent("--out holds an earlier result: refused, the earlier result kept", async () => {
    const out = join(caseDir(fx, "args-out-used"), "out");
    mkdirSync(join(out, "clips", "old"), { recursive: true });
    writeFileSync(join(out, "clips", "old", "frame_00000.png"), "earlier\n");
    const run = await runCli(generate("--steps", "2")(out));
    expectFailure(run, { code: "ALREADY_EXISTS", names: out });
    expect(existsSync(join(out, "clips", "old", "frame_00000.png"))).toBe(true);
    expect(existsSync(join(out, "clips", "still-000"))).toBe(false);
  });

  it.concurrent("train into a run directory that holds a run: refused, its records untouched", async () => {
    const runDir = join(caseDir(fx, "args-used-run"), "run");
    cpSync(fx.runDir, runDir, { recursive: true });
    const before = ["env.json", "orchestrator.json", "report.html"].map((f) => readFileSync(join(runDir, f)));
    const run = await runCli(train()(runDir));
    expectFailure(run, { code: "ALREADY_EXISTS", names: runDir });
    const after = ["env.json", "orchestrator.json", "report.html"].map((f) => readFileSync(join(runDir, f)));
    expect(after).toEqual(before);
  });
});

/** A 12 KiB tmpfs in a private mount namespace (needs root, as in CI containers; skipped else). */
const canMount = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "true"]).status === 0;

describe.skipIf(!canMount)("--out on a full disk (ENOSPC)", () => {
  it.concurrent.each([
    ["propagate", (out: string) => ["propagate", fx.dataset, "-m", fx.model, "-o", out]],
    ["generate", (out: string) => ["generate", fx.stills, "-m", fx.model, "-o", out, "--steps", "2"]],
  ])("%s", async (name, argv) => {
    const disk = caseDir(fx, `args-enospc-${name}`);
    const out = join(disk, "out");
    const argvText = [process.execPath, BIN, ...argv(out)].map((a) => `'${a}'`).join(" ");
    // The CLI and the listing of what it left run inside the namespace, where the tmpfs lives.
    const script = `mount -t tmpfs -o size=12k tmpfs '${disk}' && ${argvText}; rc=$?; echo "left:$(ls -A '${disk}')"; exit $rc`;
    const run = spawnSync("unshare", ["-m", "sh", "-c", script], { encoding: "utf8" });
    expectFailure(
      { code: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr },
      { code: "RESOURCE_EXHAUSTED", names: out },
    );
    expect(run.stdout).toContain("left:\n");
  });
});

const PAGE = 4096;

/**
 * What the fixture's training run wrote, as tmpfs counts it (whole pages; folders take none), by
 * file: its top-level records, logs/ and checkpoints/. Not report.html, nor what other cases
 * may add to the run (exports, eval sections).
 */
function trainingPages(): Map<string, number> {
  const pages = new Map<string, number>();
  for (const sub of ["", "logs", "checkpoints"]) {
    for (const entry of readdirSync(join(fx.runDir, sub), { withFileTypes: true })) {
      if (!entry.isFile() || entry.name === "report.html") continue;
      pages.set(join(sub, entry.name), Math.ceil(statSync(join(fx.runDir, sub, entry.name)).size / PAGE));
    }
  }
  return pages;
}
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/**
 * `stillmotion train` into a tmpfs of `pages` pages, in a private mount namespace; stdout gains
 * what it left: `run:` the run directory's entries, `tmp:` any temporary file on the disk.
 */
function trainOnDisk(disk: string, pages: number) {
  const runDir = join(disk, "run");
  const argv = [process.execPath, BIN, "train", "-c", join(fx.root, "config.json"), "--run-dir", runDir];
  const argvText = argv.map((a) => `'${a}'`).join(" ");
  const listing = `echo "run:$(ls -A '${runDir}' 2>/dev/null | tr '\\n' ' ')"; echo "tmp:$(find '${disk}' -name '*.tmp')"`;
  const script = `mount -t tmpfs -o size=${pages * PAGE} tmpfs '${disk}' && ${argvText}; rc=$?; ${listing}; exit $rc`;
  const run = spawnSync("unshare", ["-m", "sh", "-c", script], { encoding: "utf8" });
  const left = /^run:(.*)$/m.exec(run.stdout)?.[1]?.trim().split(" ").filter(Boolean) ?? [];
  expect(run.stdout).toMatch(/^tmp:$/m);
  return {
    runDir,
    left,
    run: { code: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr },
  };
}

/** Pages of slack beyond what the run needs: the log's few extra lines. */
const SLACK = 3;

describe.skipIf(!canMount)("train on a full disk (ENOSPC)", () => {
  it.concurrent("the run trains but report.html does not fit: not exit 0, no report or temp file", async () => {
    const reportPages = Math.ceil(statSync(join(fx.runDir, "report.html")).size / PAGE);
    expect(reportPages).toBeGreaterThan(SLACK);
    const disk = caseDir(fx, "args-enospc-train-report");
    const { runDir, left, run } = trainOnDisk(disk, sum(trainingPages().values()) + SLACK);
    expectFailure(run, { code: "RESOURCE_EXHAUSTED", names: join(runDir, "report.html") });
    expect(left).toContain("checkpoints"); // the trained run is kept: `stillmotion report` can retry
    expect(left).not.toContain("report.html");
  });

  it.concurrent("the checkpoint does not fit: its file named, no temp file", async () => {
    const pages = trainingPages();
    const checkpoint = [...pages.keys()].find((f) => f.endsWith(".pt")) ?? "";
    expect(pages.get(checkpoint)).toBeGreaterThan(SLACK);
    const disk = caseDir(fx, "args-enospc-train-checkpoint");
    const { runDir, run } = trainOnDisk(disk, sum(pages.values()) - (pages.get(checkpoint) ?? 0) + SLACK);
    expectFailure(run, { code: "RESOURCE_EXHAUSTED", names: join(runDir, checkpoint) });
  });

  it.concurrent("the disk is full before the first write: the record named, no run directory", async () => {
    // One page: the first run record (orchestrator.json, env.json) fails in write(2), whose
    // error carries no path; the atomic writer names the record.
    const { runDir, left, run } = trainOnDisk(caseDir(fx, "args-enospc-train-first"), 1);
    expectFailure(run, { code: "RESOURCE_EXHAUSTED", names: `${runDir}/` });
    expect(run.stderr).toMatch(/RESOURCE_EXHAUSTED: \S+\.json: no space left on device/);
    expect(left).toEqual([]);
  });

  it.concurrent("the disk is full early: the run's error alone, no temp file", async () => {
    const { runDir, run } = trainOnDisk(caseDir(fx, "args-enospc-train-start"), 4);
    expectFailure(run, { code: "RESOURCE_EXHAUSTED", names: runDir });
    // Not asserted: that no run directory is left. Which write meets the full disk first (the
    // log, a checkpoint) depends on timing; when it is after the first checkpoint the trained run
    // is kept, as in the report case above (seen in 1 of 3 fresh-clone runs under load). No
    // temp file is left either way (trainOnDisk checks it).
  });
});
