#!/usr/bin/env node
/**
 * The orchestrator build's last step: bundle the dashboard's page script (src/dashboard/client/)
 * into dist/dashboard/, so page.ts inlines one ready script into the live page and the
 * self-contained report without compiling anything at run time. The bundling itself lives in
 * src/dashboard/page-script.ts (page.ts uses it in memory when there is no dist/, as in tests).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dist = path.join(root, "packages/orchestrator/dist/dashboard");
const { BUNDLE_NAME, bundlePageScript } = await import(path.join(dist, "page-script.js"));
const code = await bundlePageScript(path.join(root, "packages/orchestrator/src/dashboard/client"));
await mkdir(dist, { recursive: true });
await writeFile(path.join(dist, BUNDLE_NAME), code);
