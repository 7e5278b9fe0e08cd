import { afterEach, describe, expect, it, vi } from "vitest";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { formatDuration, RunProgress } from "./progress.js";

function stepEvent(step: number): TelemetryEvent {
  return { step: { step, scalars: { total: 0.5, image: 0.25, samples_per_s: 12 } } } as never;
}

/** What `progress` writes for a run start, then (after `elapsedMs`) the given steps. */
function linesFrom(progress: RunProgress, steps: number[], elapsedMs = 0): string[] {
  const written: string[] = [];
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    progress.onEvent({ runStarted: { startStep: 0 } } as never);
    vi.advanceTimersByTime(elapsedMs);
    for (const s of steps) progress.onEvent(stepEvent(s));
  } finally {
    spy.mockRestore();
  }
  return written;
}

describe("RunProgress on a pipe", () => {
  afterEach(() => vi.useRealTimers());

  it("prints a line every n steps against the step limit", () => {
    vi.useFakeTimers();
    const lines = linesFrom(new RunProgress(50, false, 25), [1, 25, 26, 50]);
    expect(lines).toEqual([
      "step 25/50 | loss 0.5000 | L_I 0.2500 | 12.0 samples/s\n",
      "step 50/50 | loss 0.5000 | L_I 0.2500 | 12.0 samples/s\n",
    ]);
  });

  it("with a time budget, says how much of it is spent instead of the step limit", () => {
    vi.useFakeTimers();
    const lines = linesFrom(new RunProgress(100_000, false, 25, 240), [25], 83_000);
    expect(lines).toEqual([
      "step 25 | 1:23/4:00 of the time budget | loss 0.5000 | L_I 0.2500 | 12.0 samples/s\n",
    ]);
  });

  it("formats durations as m:ss", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(59.6)).toBe("1:00");
    expect(formatDuration(605)).toBe("10:05");
  });
});
