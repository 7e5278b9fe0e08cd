import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { produceAtomic, writeFileAtomic, writeFileAtomicSync } from "./fs-atomic.js";

const dir = mkdtempSync(join(tmpdir(), "fs-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What Node throws when write(2) fails on a full disk: an errno error with no path. */
function enospcOnWrite(): NodeJS.ErrnoException {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), {
    code: "ENOSPC",
    errno: -28,
    syscall: "write",
  });
}

describe("fs-atomic", () => {
  it("writes the whole file and leaves no temporary file", async () => {
    const file = join(dir, "whole", "out.txt");
    await writeFileAtomic(file, "one\n");
    writeFileAtomicSync(file, "two\n");
    expect(readFileSync(file, "utf8")).toBe("two\n");
    expect(readdirSync(join(dir, "whole"))).toEqual(["out.txt"]);
  });

  it("a failed write names the target (write errors carry no path) and leaves nothing", async () => {
    const file = join(dir, "full", "out.txt");
    const failure = produceAtomic(file, async () => {
      throw enospcOnWrite();
    });
    await expect(failure).rejects.toMatchObject({ code: "ENOSPC", path: file });
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(join(dir, "full"))).toEqual([]);
  });

  it("an error about the temporary file names the target instead", async () => {
    const file = join(dir, "tmp-named", "out.txt");
    const failure = produceAtomic(file, async (tmp) => {
      throw Object.assign(new Error(`EACCES: permission denied, open '${tmp}'`), {
        code: "EACCES",
        syscall: "open",
        path: tmp,
      });
    });
    await expect(failure).rejects.toMatchObject({ code: "EACCES", path: file });
  });

  it("an error about another path keeps it", async () => {
    const other = join(dir, "elsewhere");
    const failure = produceAtomic(join(dir, "other", "out.txt"), async () => {
      throw Object.assign(new Error("ENOENT"), { code: "ENOENT", syscall: "open", path: other });
    });
    await expect(failure).rejects.toMatchObject({ path: other });
  });
});
