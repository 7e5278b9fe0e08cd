#!/usr/bin/env node
// The `stillmotion` command that npm links into node_modules/.bin (`npx stillmotion`).
// It is committed rather than built because npm links a workspace's bin only when the target file
// exists at install time, and dist/ is built after `npm ci`; it loads the built CLI, or says how
// to build it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/bin.js", import.meta.url);
if (existsSync(entry)) {
  await import(entry.href);
} else {
  console.error(
    `stillmotion: FAILED_PRECONDITION: ${fileURLToPath(entry)} is not built: run \`npm run build\` at the repository root`,
  );
  process.exitCode = 1;
}
