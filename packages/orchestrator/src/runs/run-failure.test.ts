// A run that did not stop as asked is an error with the trainer's code (issue N1), whatever
// reason the trainer reported; a stop condition is not.
import { describe, expect, it } from "vitest";
import { Code } from "../errors.js";
import { silentLogger } from "../logger.js";
import { runFailure, STOP_REASONS } from "./supervisor.js";

describe("runFailure", () => {
  it("takes the code and message from the first line, not the traceback", () => {
    const err = runFailure(
      "failed",
      3,
      "RESOURCE_EXHAUSTED: /runs/a/metrics.jsonl: No space left on device\nTraceback (most recent call last):\n  ...",
      silentLogger,
    );
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(err.message).toBe("run failed at step 3: /runs/a/metrics.jsonl: No space left on device");
  });

  it("an older trainer's on_end 'error' (no message) or an unknown text is ABORTED, never success", () => {
    expect(STOP_REASONS.has("error")).toBe(false);
    expect(STOP_REASONS.has("failed")).toBe(false);
    const bare = runFailure("error", 3, "", silentLogger);
    expect([bare.code, bare.message]).toEqual([
      Code.ABORTED,
      'run failed at step 3: the trainer ended the run with reason "error"',
    ]);
    expect(runFailure("failed", 0, "ImportError: no module x", silentLogger).message).toBe(
      "run failed at step 0: ImportError: no module x",
    );
  });

  it("every stop condition of the trainer is a normal end", () => {
    for (const reason of [
      "max_steps",
      "time_budget",
      "early_stopping",
      "stop_requested",
      "signal",
      "collapse",
    ])
      expect(STOP_REASONS.has(reason)).toBe(true);
  });
});
