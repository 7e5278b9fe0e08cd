// Lazy commands: `--help` loads no command module (so neither onnxruntime, sharp, ZeroMQ nor
// gRPC), a command loads only its own module, and the summaries --help shows are the modules' own.
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildProgram, main } from "../cli.js";
import { COMMANDS, type CommandEntry, commandFor, registerSummaries } from "./index.js";

const originals = new Map(COMMANDS.map((entry) => [entry, entry.load]));

/** Spy on every entry's load; returns the paths loaded, in order. */
function spyLoads(): string[] {
  const loaded: string[] = [];
  for (const entry of COMMANDS as CommandEntry[]) {
    const load = originals.get(entry) as CommandEntry["load"];
    entry.load = vi.fn(() => {
      loaded.push(entry.path.join(" "));
      return load();
    });
  }
  return loaded;
}

afterEach(() => {
  for (const [entry, load] of originals) (entry as CommandEntry).load = load;
  vi.restoreAllMocks();
});

/** Every (sub)command as "path :: description", depth first. */
function tree(program: Command): string[] {
  const walk = (c: Command, pre: string[]): string[] =>
    c.commands.flatMap((s) => [
      `${[...pre, s.name()].join(" ")} :: ${s.description()}`,
      ...walk(s, [...pre, s.name()]),
    ]);
  return walk(program, []).sort();
}

describe("lazy commands", () => {
  it("--help, a bare group and an unknown command load no command module", async () => {
    const loaded = spyLoads();
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await main(["node", "stillmotion", "--help"])).toBe(0);
    await buildProgram(["dataset"]);
    expect(await main(["node", "stillmotion", "frobnicate"])).toBe(2);
    expect(loaded).toEqual([]);
  });

  it("a command (or `help <command>`) loads only its own module", async () => {
    const loaded = spyLoads();
    const program = await buildProgram(["dataset", "import", "frames", "dir", "--out", "x"]);
    expect(loaded).toEqual(["dataset import frames"]);
    expect(tree(program)).toEqual([
      "dataset :: import, check and describe datasets (docs/datasets.md)",
      "dataset import :: turn frames, videos, stills or DICOM cine loops into a dataset",
      `dataset import frames :: ${commandFor(["dataset", "import", "frames"])?.summary}`,
    ]);
    await buildProgram(["help", "status"]);
    expect(loaded).toEqual(["dataset import frames", "status"]);
  });

  it("the summaries --help shows are exactly the modules' own names and descriptions", async () => {
    const summaries = new Command("stillmotion");
    registerSummaries(summaries);
    expect(tree(summaries)).toEqual(tree(await buildProgram()));
  });
});
