/**
 * The static report: one self-contained HTML file (data, previews and script inlined) with the
 * dashboard's curves and samples plus the run info, written to run_dir/report.html at the end
 * of `train` or by `stillmotion report`.
 *
 * Extension point: other commands add sections (`ReportSection`: html, charts, sample strips)
 * with `saveReportSection(runDir, section)`; they are kept in run_dir/report-sections/<id>.json,
 * so every later report (and the dashboard) shows them. Then call `writeReport(runDir)`.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomicSync } from "@stillmotion/inference/fs-atomic";
import { Code, StillMotionError } from "../errors.js";
import { writeJsonAtomic } from "../runs/run-record.js";
import { isRunDir } from "../runs/run-summary.js";
import { pageScript, renderPage } from "./page.js";
import type { PageData, ReportSection, SampleStrip } from "./page-data.js";
import { type PreviewTensors, validatePreview } from "./preview-store.js";
import { runInfoHtml } from "./run-info.js";
import { loadRunView, type RunStatus } from "./run-view.js";

export const REPORT_FILE = "report.html";
const SECTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function reportPath(runDir: string): string {
  return join(runDir, REPORT_FILE);
}

export function reportSectionsDir(runDir: string): string {
  return join(runDir, "report-sections");
}

function checkRunDir(runDir: string): void {
  if (!existsSync(runDir)) throw new StillMotionError(Code.NOT_FOUND, `${runDir}: no such run directory`);
  if (!isRunDir(runDir)) {
    throw new StillMotionError(
      Code.NOT_FOUND,
      `${runDir}: not a run directory (no config.json or metrics.jsonl)`,
    );
  }
}

/** Saves (or replaces, by id) a section that every later report of the run shows. */
export function saveReportSection(runDir: string, section: ReportSection): string {
  if (!SECTION_ID.test(section.id)) {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `report section id: must be letters, digits, ".", "_" or "-" (not first), got ${JSON.stringify(section.id)}`,
    );
  }
  const path = join(reportSectionsDir(runDir), `${section.id}.json`);
  writeJsonAtomic(path, section);
  return path;
}

/** The run's saved sections, by ascending `order` then id. */
export function readReportSections(runDir: string): ReportSection[] {
  const dir = reportSectionsDir(runDir);
  if (!existsSync(dir)) return [];
  const sections = readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .map((name) => {
      const path = join(dir, name);
      let section: ReportSection;
      try {
        section = JSON.parse(readFileSync(path, "utf8")) as ReportSection;
      } catch (cause) {
        throw new StillMotionError(Code.DATA_LOSS, `${path}: not a readable report section JSON file`, {
          cause,
        });
      }
      if (typeof section.id !== "string" || typeof section.title !== "string") {
        throw new StillMotionError(Code.DATA_LOSS, `${path}: a report section needs string "id" and "title"`);
      }
      return section;
    });
  return sections.sort((a, b) => (a.order ?? 100) - (b.order ?? 100) || a.id.localeCompare(b.id));
}

/** A strip of frames + masks for a section, validated like a training preview. */
export function sampleStrip(label: string, tensors: Omit<PreviewTensors, "step">): SampleStrip {
  validatePreview({ ...tensors, step: 0 }, `sample strip "${label}"`);
  const b64 = (bytes: Uint8Array) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  return {
    label,
    imageShape: [...tensors.imageShape],
    maskShape: [...tensors.maskShape],
    images: b64(tensors.images),
    masks: b64(tensors.masks),
  };
}

/** The report page for one run, or several overlaid (compare), as an HTML string. */
export async function renderReport(
  runDirs: string[],
  extraSections: ReportSection[] = [],
  status?: Partial<RunStatus>,
): Promise<string> {
  const dirs = runDirs.map((d) => resolve(d));
  for (const dir of dirs) checkRunDir(dir);
  const runs = dirs.map(loadRunView);
  if (status) for (const run of runs) run.status = { ...run.status, ...status };
  const saved = dirs.length === 1 ? readReportSections(dirs[0]) : [];
  const data: PageData = {
    mode: "static",
    title: runs.length === 1 ? runs[0].name : runs.map((r) => r.name).join(" vs "),
    generatedAt: new Date().toISOString(),
    runs,
    sections: [...saved, ...extraSections],
  };
  return renderPage(data, { infoHtml: runInfoHtml(dirs), script: await pageScript() });
}

export interface WriteReportOptions {
  /** Where to write (default run_dir/report.html). */
  out?: string;
  /** Sections for this file only (saved ones are always included). */
  sections?: ReportSection[];
  /** What the writer knows better than the files (e.g. `train` after a failure: state "failed"). */
  status?: Partial<RunStatus>;
}

/** Writes the run's report atomically; returns its path. */
export async function writeReport(runDir: string, options: WriteReportOptions = {}): Promise<string> {
  const html = await renderReport([runDir], options.sections, options.status);
  const out = resolve(options.out ?? reportPath(runDir));
  writeTextAtomic(out, html);
  return out;
}

/** Writes a compare report of several runs; returns its path. */
export async function writeCompareReport(runDirs: string[], out: string): Promise<string> {
  const html = await renderReport(runDirs);
  writeTextAtomic(resolve(out), html);
  return resolve(out);
}

const writeTextAtomic = writeFileAtomicSync;
