/**
 * The dashboard page's script: client/dashboard-app.ts and the modules it imports, bundled by
 * esbuild into one ES2022 browser script. The build writes it to dist/dashboard/BUNDLE_NAME
 * (tools/build/bundle-page-script.mjs); a source checkout without dist/ (tests) bundles in
 * memory, which takes milliseconds. esbuild is needed only there: it comes with vitest.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BUNDLE_NAME = "dashboard-page.bundle.js";

const here = dirname(fileURLToPath(import.meta.url));

/** Bundle the page script whose sources are in `clientDir` (src/dashboard/client). */
export async function bundlePageScript(clientDir = join(here, "client")): Promise<string> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [join(clientDir, "dashboard-app.ts")],
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    platform: "browser",
    legalComments: "none",
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

let script: Promise<string> | undefined;

/** The page script: the built bundle beside this module, else bundled now from the sources. */
export function pageScript(): Promise<string> {
  const built = join(here, BUNDLE_NAME);
  script ??= existsSync(built) ? Promise.resolve(readFileSync(built, "utf8")) : bundlePageScript();
  return script;
}
