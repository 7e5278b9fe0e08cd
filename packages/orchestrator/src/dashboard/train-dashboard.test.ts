import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { telemetry } from "@stillmotion/proto";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { silentLogger } from "../logger.js";
import { listPreviewFiles } from "./preview-store.js";
import { reportPath } from "./report.js";
import { parseDashboardPort, TrainDashboard } from "./train-dashboard.js";

const event = (e: telemetry.DeepPartial<telemetry.TelemetryEvent>) => telemetry.TelemetryEvent.fromPartial(e);

function usedRunDir(): string {
  const dir = join(tempDir("train-dashboard"), "run");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), "{}");
  writeFileSync(join(dir, "metrics.jsonl"), `${JSON.stringify({ step: 1, kind: "train", total: 1 })}\n`);
  return dir;
}

describe("TrainDashboard", () => {
  it("keeps previews, survives a malformed one, and writes the report only for a run that started", async () => {
    const dir = usedRunDir();
    const warnings: unknown[] = [];
    const logger = { ...silentLogger, warn: (...args: unknown[]) => warnings.push(args) } as never;
    const board = await TrainDashboard.start(dir, { logger });
    expect(board.url).toBeUndefined();
    const preview = { step: 5, imageShape: [1, 1, 1, 1], maskShape: [1, 1, 1, 1] };
    board.onEvent(event({ preview: { ...preview, images: Buffer.from([7]), masks: Buffer.from([9]) } }));
    board.onEvent(
      event({ preview: { ...preview, step: 6, images: Buffer.from([1, 2]), masks: Buffer.from([9]) } }),
    );
    expect(listPreviewFiles(dir).map((p) => p.slice(-18))).toEqual(["step-00000005.json"]);
    expect(warnings).toHaveLength(1);

    // The trainer refused the directory (never started): its old report must stay untouched.
    expect(await board.finish(new Error("already holds a run"))).toBeUndefined();
    expect(existsSync(reportPath(dir))).toBe(false);

    const started = await TrainDashboard.start(dir, { logger: silentLogger, print: () => {} });
    started.onEvent(event({ runStarted: { runDir: dir } }));
    expect(await started.finish()).toBe(reportPath(dir));
  });

  it("a report it cannot write fails a run that succeeded, and is one warning after one that failed", async () => {
    const dir = usedRunDir();
    // A folder where report.html goes: the atomic writer's rename onto it fails (EISDIR), as a
    // full disk fails its write (the bad-input suite does that one on a tmpfs, as root).
    mkdirSync(join(reportPath(dir), "blocker"), { recursive: true });
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (line: string) => warnings.push(line) } as never;
    const print = () => {};

    const ok = await TrainDashboard.start(dir, { logger, print });
    ok.onEvent(event({ runStarted: { runDir: dir } }));
    const error = await ok.finish().catch((err: Error) => err);
    expect(String(error)).toBe(
      `INVALID_ARGUMENT: ${reportPath(dir)}: illegal operation on a directory (rename)`,
    );
    expect(warnings).toEqual([]);

    const failed = await TrainDashboard.start(dir, { logger, print });
    failed.onEvent(event({ runStarted: { runDir: dir } }));
    expect(await failed.finish(new Error("trainer died"))).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/^report not written \(.*report\.html: .*\); /)]);
    // Neither attempt left its temporary file.
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("reads --dashboard [port]", () => {
    expect(parseDashboardPort(true)).toBe(6007);
    expect(parseDashboardPort("0")).toBe(0);
    expect(parseDashboardPort("8080")).toBe(8080);
    expect(() => parseDashboardPort("http")).toThrow(
      /--dashboard: the port must be an integer 0-65535, got "http"/,
    );
    expect(() => parseDashboardPort("70000")).toThrow(/got "70000"/);
  });
});
