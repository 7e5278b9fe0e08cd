/** `train --nproc 2`: the real trainer under torchrun (2 CPU processes, gloo), followed from its log. */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeSyntheticDataset, tempDir, tinyConfig } from "../../test/helpers.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { readMetrics } from "./run-record.js";
import { superviseTorchrun, torchrunArgs } from "./torchrun-supervisor.js";

let root: string;
let dataset: string;
beforeAll(() => {
  root = tempDir("torchrun");
  dataset = makeSyntheticDataset(root);
});

describe("superviseTorchrun", () => {
  it("builds standalone and multi-node launch lines", () => {
    expect(torchrunArgs({ nproc: 2 }, "c.json", "r", false)).toContain("--standalone");
    const multi = torchrunArgs(
      { nproc: 4, nnodes: 2, nodeRank: 1, masterAddr: "10.0.0.1", masterPort: 29400 },
      "c.json",
      "r",
      true,
    );
    expect(multi).toEqual(
      expect.arrayContaining([
        "--nnodes=2",
        "--node_rank=1",
        "--master_addr=10.0.0.1",
        "--master_port=29400",
      ]),
    );
    expect(multi.slice(-2)).toEqual(["--resume", "auto"]);
  });

  it("trains with 2 processes and delivers every logged step once, in order", async () => {
    const runDir = join(root, "ddp");
    const steps: number[] = [];
    const outcome = await superviseTorchrun({
      config: tinyConfig(dataset, 6) as never,
      runDir,
      distributed: { nproc: 2 },
      onEvent: (e: TelemetryEvent) => {
        if (e.step) steps.push(Number(e.step.step));
      },
    });
    expect(outcome.reason).toBe("max_steps");
    expect(outcome.step).toBe(6);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(
      readMetrics(runDir)
        .filter((m) => m.kind === "train")
        .map((m) => m.step),
    ).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
