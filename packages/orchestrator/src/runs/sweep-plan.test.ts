import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { gridPlan, listPlan, runName } from "./sweep-plan.js";

describe("sweep plans", () => {
  it("expands a grid into every combination, named after the values", () => {
    const plan = gridPlan(["train.lr=1e-3,3e-4", "model.preset=tiny,realtime"]);
    expect(plan.map((r) => r.overrides)).toEqual([
      ["train.lr=1e-3", "model.preset=tiny"],
      ["train.lr=1e-3", "model.preset=realtime"],
      ["train.lr=3e-4", "model.preset=tiny"],
      ["train.lr=3e-4", "model.preset=realtime"],
    ]);
    expect(plan[0].name).toBe("lr=1e-3_preset=tiny");
  });

  it("reads a list file and refuses a malformed one, naming the entry", () => {
    const dir = tempDir("sweep");
    const ok = join(dir, "ok.yaml");
    writeFileSync(ok, "runs:\n  - name: fast lr\n    set: {train.lr: 0.003}\n  - set: {train.mode: fused}\n");
    expect(listPlan(ok)).toEqual([
      { name: "fast_lr", overrides: ["train.lr=0.003"] },
      { name: "mode=fused", overrides: ["train.mode=fused"] },
    ]);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "runs:\n  - set: [1, 2]\n");
    expect(() => listPlan(bad)).toThrow(/runs\[0\]\.set: must be a mapping/);
    expect(() => gridPlan(["train.lr"])).toThrow(/expected key.path=v1,v2/);
    expect(runName([])).toBe("base");
  });
});
