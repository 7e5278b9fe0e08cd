/**
 * The data contract between the server side (dashboard server, report writer) and the page
 * script (client/dashboard-app.ts), which imports these as types only. Everything here is plain
 * JSON: it is inlined in the page and sent over Server-Sent Events.
 */

import type { MetricRecord } from "../runs/run-record.js";
import type { StoredPreview } from "./preview-store.js";
import type { RunStatus, RunView } from "./run-view.js";

/** One line (or one bar group) of a chart. */
export interface ChartSeries {
  label: string;
  /** CSS colour; the page picks one from its palette when absent. */
  color?: string;
  dashed?: boolean;
  /** Line charts: [x, y] points, x ascending. */
  points?: Array<[number, number]>;
  /** Bar charts: one value per category (null = no bar). */
  values?: Array<number | null>;
}

/** A chart a report section asks the page to draw with the same renderer as the curves. */
export interface ChartSpec {
  title: string;
  kind: "line" | "bars";
  /** Drawn along the y axis (line charts are over training steps, bars over categories). */
  yLabel?: string;
  /** Bar charts: the category names along x (e.g. video ids). */
  categories?: string[];
  series: ChartSeries[];
}

/** A strip of frames with their masks, drawn like the training previews. */
export interface SampleStrip {
  label: string;
  imageShape: number[];
  maskShape: number[];
  /** base64 uint8 [N, C, H, W] */
  images: string;
  /** base64 uint8 [N, 1, H, W] */
  masks: string;
}

/**
 * A block appended to the report after the built-in panels: the extension point for other
 * commands (eval adds its table and a per-video Dice chart; infer can add sample strips).
 * `html` is placed as is, so escape any text in it (escapeHtml).
 */
export interface ReportSection {
  /** Stable id; a section saved again under the same id replaces the old one. */
  id: string;
  title: string;
  /** Sections are shown by ascending order, then id (default 100). */
  order?: number;
  html?: string;
  charts?: ChartSpec[];
  strips?: SampleStrip[];
}

export interface PageData {
  /** "live": the page follows /events; "static": a report file, the data is all there is. */
  mode: "live" | "static";
  title: string;
  generatedAt: string;
  runs: RunView[];
  sections: ReportSection[];
}

/** Messages on the dashboard's /events stream (the SSE event name is `type`). */
export type ServerMessage =
  | { type: "snapshot"; runs: RunView[] }
  | { type: "run"; run: number; view: RunView }
  | { type: "metric"; run: number; record: MetricRecord }
  | { type: "preview"; run: number; preview: StoredPreview }
  | { type: "status"; run: number; status: RunStatus }
  /** The run info section again, re-rendered from the run directories (throttled). */
  | { type: "info"; html: string };
