import { describe, expect, it } from "vitest";
import { stepsCell } from "./run-info.js";

describe("the report's steps cell", () => {
  it("names a time budget beside max_steps, so a budget-stopped run does not read as unfinished", () => {
    const config = { stop: { max_steps: 100000, time_budget_s: 240 } };
    expect(stepsCell(319, config)).toBe("319 (limits: 100000 steps, 4 min 0 s of training)");
  });

  it("keeps step / max without a budget, and the bare step without limits", () => {
    expect(stepsCell(40, { stop: { max_steps: 50, time_budget_s: null } })).toBe("40 / 50");
    expect(stepsCell(40, { stop: { max_steps: null } })).toBe("40");
    expect(stepsCell(7, undefined)).toBe("7");
  });

  it("a budget alone", () => {
    expect(stepsCell(12, { stop: { max_steps: null, time_budget_s: 5400 } })).toBe(
      "12 (limit: 1 h 30 min of training)",
    );
  });
});
