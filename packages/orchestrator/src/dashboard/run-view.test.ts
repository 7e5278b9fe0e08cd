import { telemetry } from "@stillmotion/proto";
import { describe, expect, it } from "vitest";
import type { MetricRecord } from "../runs/run-record.js";
import { appendMetric, metricFromEvent, thinMetrics } from "./run-view.js";

const train = (step: number, total = step): MetricRecord => ({ step, kind: "train", total });
const val = (step: number): MetricRecord => ({ step, kind: "val", total: 0.5 });

describe("run view", () => {
  it("appends rows like metrics.jsonl, a restarted trainer replacing the steps it re-runs", () => {
    const rows: MetricRecord[] = [];
    for (const r of [train(1), train(2), val(2), train(3), train(4), val(4)]) appendMetric(rows, r);
    appendMetric(rows, train(3, 30)); // restart from the checkpoint at step 2
    expect(rows.map((r) => `${r.kind}${r.step}`)).toEqual(["train1", "train2", "val2", "train3"]);
    expect(rows.at(-1)?.total).toBe(30);
    appendMetric(rows, val(3));
    appendMetric(rows, val(3));
    expect(rows.map((r) => `${r.kind}${r.step}`)).toEqual(["train1", "train2", "val2", "train3", "val3"]);
  });

  it("thins long runs evenly, keeping the first and last train rows and every val row", () => {
    const rows: MetricRecord[] = [];
    for (let s = 1; s <= 1000; s++) rows.push(train(s), ...(s % 100 === 0 ? [val(s)] : []));
    const thin = thinMetrics(rows, 100);
    const steps = thin.filter((r) => r.kind === "train").map((r) => r.step);
    expect(steps.length).toBeLessThanOrEqual(101);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(1000);
    expect(thin.filter((r) => r.kind === "val")).toHaveLength(10);
    expect(thinMetrics(rows, 5000)).toBe(rows);
  });

  it("turns step and validation telemetry into metric rows", () => {
    const step = telemetry.TelemetryEvent.fromPartial({
      timeUnixS: 12,
      step: { step: 7, epoch: 1, scalars: { total: 1.5, lr: 0.001 } },
    });
    expect(metricFromEvent(step)).toEqual({ step: 7, kind: "train", time: 12, total: 1.5, lr: 0.001 });
    const v = telemetry.TelemetryEvent.fromPartial({
      timeUnixS: 13,
      validation: { step: 10, scalars: { total: 0.9 } },
    });
    expect(metricFromEvent(v)).toEqual({ step: 10, kind: "val", time: 13, total: 0.9 });
    expect(metricFromEvent(telemetry.TelemetryEvent.fromPartial({ heartbeat: { pid: 1 } }))).toBeUndefined();
  });
});
