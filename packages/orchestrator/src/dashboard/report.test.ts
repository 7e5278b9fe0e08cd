import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { report } from "../commands/report.js";
import { Code } from "../errors.js";
import { readReportSections, reportPath, sampleStrip, saveReportSection, writeReport } from "./report.js";

function fixtureRun(name: string, lr = 0.01): string {
  const dir = join(tempDir("report"), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ train: { lr }, checkpoint: { run_dir: dir } }));
  const rows = [1, 2, 3].map((step) => JSON.stringify({ step, kind: "train", total: 1 / step }));
  writeFileSync(join(dir, "metrics.jsonl"), `${rows.join("\n")}\n`);
  return dir;
}

function pageData(html: string): { mode: string; sections: Array<{ id: string }>; runs: unknown[] } {
  const json = /<script type="application\/json" id="sm-data">(.*?)<\/script>/s.exec(html)?.[1];
  return JSON.parse(json ?? "null");
}

describe("static report", () => {
  it("inlines the data and shows saved sections in order; a section saved again replaces the old one", async () => {
    const dir = fixtureRun("a");
    saveReportSection(dir, { id: "eval", title: "Evaluation", order: 10, html: "<p>old</p>" });
    saveReportSection(dir, {
      id: "eval",
      title: "Evaluation </script>",
      order: 10,
      html: "<table><tr><td>0.9</td></tr></table>",
    });
    saveReportSection(dir, {
      id: "samples",
      title: "Samples",
      order: 5,
      strips: [
        sampleStrip("video 1", {
          imageShape: [1, 1, 1, 2],
          maskShape: [1, 1, 1, 2],
          images: Uint8Array.of(0, 255),
          masks: Uint8Array.of(255, 0),
        }),
      ],
      charts: [
        { title: "Dice", kind: "bars", categories: ["v1"], series: [{ label: "model", values: [0.8] }] },
      ],
    });
    expect(readReportSections(dir).map((s) => s.id)).toEqual(["samples", "eval"]);
    const path = await writeReport(dir);
    expect(path).toBe(reportPath(dir));
    const html = readFileSync(path, "utf8");
    const data = pageData(html);
    expect(data.mode).toBe("static");
    expect(data.runs).toHaveLength(1);
    expect(data.sections.map((s) => s.id)).toEqual(["samples", "eval"]);
    expect(html).toContain("<table><tr><td>0.9</td></tr></table>");
    expect(html).not.toContain("<p>old</p>");
    expect(html).toContain("<h2>Evaluation &lt;/script&gt;</h2>");
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("refuses bad section ids, non-run directories, and a comparison without --out", async () => {
    const dir = fixtureRun("b");
    expect(() => saveReportSection(dir, { id: "../x", title: "x" })).toThrow(
      /report section id: must be letters/,
    );
    const empty = tempDir("report-empty");
    await expect(writeReport(empty)).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringMatching(/not a run directory/),
    });
    await expect(report([dir, fixtureRun("c")])).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    const out = join(empty, "compare.html");
    expect(await report([dir, fixtureRun("d", 0.003)], { out })).toBe(out);
    const html = readFileSync(out, "utf8");
    expect(pageData(html).runs).toHaveLength(2);
    // the compare table lists the keys that differ, not the run_dir every run has its own of
    expect(html).toContain("<h3>Config differences</h3>");
    expect(html).toContain("<tr><th>train.lr</th><td>0.01</td><td>0.003</td></tr>");
    expect(html).not.toContain("<th>checkpoint.run_dir</th>");
  });
});
