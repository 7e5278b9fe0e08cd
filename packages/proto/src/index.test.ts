import { describe, expect, it } from "vitest";
import { telemetry, trainer } from "./index.js";

describe("generated stillmotion.trainer.v1 code", () => {
  it("round-trips a telemetry event through protobuf binary encoding", () => {
    const event = telemetry.TelemetryEvent.fromPartial({
      seq: 7,
      timeUnixS: 1.5,
      heartbeat: { pid: 42, uptimeS: 3.25 },
    });
    const decoded = telemetry.TelemetryEvent.decode(telemetry.TelemetryEvent.encode(event).finish());
    expect(decoded).toEqual(event);
  });

  it("exposes the Trainer service under its versioned package", () => {
    expect(trainer.protobufPackage).toBe("stillmotion.trainer.v1");
    expect(Object.keys(trainer.TrainerService)).toEqual([
      "health",
      "getVersion",
      "startRun",
      "stopRun",
      "getStatus",
      "listCheckpoints",
      "exportOnnx",
      "streamEvents",
    ]);
  });
});
