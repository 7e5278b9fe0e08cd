/**
 * The guides' way to call the CLI, `npx stillmotion`, as a newcomer runs it after `npm run setup`:
 * npm must have linked the bin (a committed shim, since dist/ is built after `npm ci`), and npm
 * must not warn about the repository's own .npmrc.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(packageDir, "../..");

describe("npx stillmotion", () => {
  it("runs the built CLI from the repository root, with no npm warnings", () => {
    const run = spawnSync("npx", ["--no-install", "stillmotion", "--version"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(run.stderr).not.toMatch(/npm (warn|error)/);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("0.1.0");
  });

  it("says in one line how to build when dist/ is missing", () => {
    const unbuilt = join(tempDir("npx-shim"), "orchestrator");
    mkdirSync(join(unbuilt, "bin"), { recursive: true });
    copyFileSync(join(packageDir, "bin", "stillmotion.js"), join(unbuilt, "bin", "stillmotion.js"));
    const run = spawnSync(process.execPath, [join(unbuilt, "bin", "stillmotion.js"), "--version"], {
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      `stillmotion: FAILED_PRECONDITION: ${join(unbuilt, "dist", "bin.js")} is not built: run \`npm run build\` at the repository root`,
    ]);
  });
});
