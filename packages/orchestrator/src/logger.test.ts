import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../test/helpers.js";
import { createLogger, type Logger } from "./logger.js";

const savedFormat = process.env.STILLMOTION_LOG_FORMAT;
afterEach(() => {
  if (savedFormat === undefined) delete process.env.STILLMOTION_LOG_FORMAT;
  else process.env.STILLMOTION_LOG_FORMAT = savedFormat;
});

/** Logs what the supervisor logs when a run starts, then waits for both files' lines. */
async function logRunStarted(log: Logger, files: string[]): Promise<string[][]> {
  log.info({ runId: "r1", attempt: 1 }, "run started");
  const deadline = Date.now() + 10_000;
  const lines = () =>
    files.map((f) => (existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean) : []));
  while (lines().some((l) => l.length === 0) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  return lines();
}

describe("createLogger", () => {
  it("prints one readable line on the console, even when it is not a terminal, and JSON to the log file", async () => {
    delete process.env.STILLMOTION_LOG_FORMAT;
    const dir = tempDir("logger");
    const [consoleFile, logFile] = [join(dir, "stderr.txt"), join(dir, "logs", "orchestrator.log")];
    const [shown, logged] = await logRunStarted(createLogger({ console: consoleFile, file: logFile }), [
      consoleFile,
      logFile,
    ]);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: run started \{"runId":"r1","attempt":1\}$/);
    expect(JSON.parse(logged[0])).toMatchObject({ level: 30, msg: "run started", runId: "r1" });
  });

  it("prints JSON lines on the console when asked (--json or STILLMOTION_LOG_FORMAT=json)", async () => {
    const dir = tempDir("logger");
    const asked = join(dir, "json.txt");
    const [[byOption]] = await logRunStarted(createLogger({ console: asked, json: true }), [asked]);
    expect(JSON.parse(byOption)).toMatchObject({ msg: "run started", attempt: 1 });

    process.env.STILLMOTION_LOG_FORMAT = "json";
    const fromEnv = join(dir, "env.txt");
    const [[byEnv]] = await logRunStarted(createLogger({ console: fromEnv }), [fromEnv]);
    expect(JSON.parse(byEnv)).toMatchObject({ msg: "run started", runId: "r1" });
  });
});
