/**
 * The one HTML page behind both the live dashboard and the static report: styles, the run
 * info, the report sections, the data as inline JSON and the page script inline, so the file
 * needs nothing but itself (no CDN, no fetches; a live page only talks to its own /events).
 */
import type { PageData, ReportSection } from "./page-data.js";
import { escapeHtml } from "./run-info.js";

export { pageScript } from "./page-script.js";

/** JSON that is safe inside <script>: no "</script>" can close the element early. */
function inlineJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, "\\u003c");
}

function sectionHtml(section: ReportSection, index: number): string {
  return `<section class="card extra" id="section-${escapeHtml(section.id)}">
  <h2>${escapeHtml(section.title)}</h2>
  ${section.html ?? ""}
  <div class="charts section-charts" data-section="${index}"></div>
  <div class="strips section-strips" data-section="${index}"></div>
</section>`;
}

export interface PageParts {
  /** Run info HTML (runInfoHtml). */
  infoHtml: string;
  /** The page script (pageScript()). */
  script: string;
}

export function renderPage(data: PageData, parts: PageParts): string {
  const footer =
    data.mode === "static"
      ? `report written ${escapeHtml(data.generatedAt)} by <code>stillmotion</code>; everything is in this file`
      : `live dashboard served by <code>stillmotion</code>; a static copy is written to report.html when the run ends`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)} · StillMotion</title>
<style>${CSS}</style>
</head>
<body data-mode="${data.mode}">
<header class="top">
  <div class="brand"><span class="logo">StillMotion</span><span class="title">${escapeHtml(data.title)}</span></div>
  <div id="run-status" class="run-status"></div>
  <div id="connection" class="connection"></div>
</header>
<main>
  <noscript><p class="card">The curves and previews are drawn by the page's script: enable JavaScript.</p></noscript>
  <section class="card">
    <div class="card-head">
      <h2>Training curves</h2>
      <div class="toolbar">
        <label title="exponential moving average of the training curves (validation is never smoothed)">smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6"><output id="smoothing-value">0.60</output></label>
        <label><input id="log-y" type="checkbox"> log scale (losses)</label>
      </div>
    </div>
    <div id="run-legend" class="legend"></div>
    <div id="charts" class="charts"></div>
  </section>
  <section class="card">
    <div class="card-head"><h2>Predicted frames</h2><p class="muted">rows: predicted next frames · predicted masks · frames with the mask as a <span class="swatch-overlay"></span> overlay and its 0.5 contour</p></div>
    <div id="previews" class="strips"></div>
  </section>
  ${data.sections.map(sectionHtml).join("\n")}
  <section class="card info">
    <h2>Run info</h2>
    <div id="run-info">${parts.infoHtml}</div>
  </section>
</main>
<footer>${footer}</footer>
<div id="tooltip" class="tooltip" hidden></div>
<script type="application/json" id="sm-data">${inlineJson(data)}</script>
<script type="module">${parts.script}</script>
</body>
</html>
`;
}

const CSS = `
:root { --bg: #f4f5f7; --card: #fff; --ink: #1f2430; --muted: #6b7280; --line: #e5e7eb; --accent: #2563eb;
  --overlay: rgb(0, 229, 255); font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); font-size: 14px; }
header.top { position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px; flex-wrap: wrap;
  padding: 10px 20px; background: #111827; color: #f9fafb; }
.brand { display: flex; align-items: baseline; gap: 10px; }
.logo { font-weight: 700; letter-spacing: .02em; }
.title { color: #cbd5e1; }
.run-status { display: flex; gap: 10px; flex-wrap: wrap; flex: 1; }
.pill { display: inline-flex; align-items: center; gap: 8px; padding: 3px 10px; border-radius: 999px; background: #1f2937; font-size: 13px; }
.pill .dot { width: 9px; height: 9px; border-radius: 50%; background: #9ca3af; }
.pill[data-state="running"] .dot { background: #22c55e; animation: pulse 1.2s infinite; }
.pill[data-state="finished"] .dot { background: #60a5fa; }
.pill[data-state="failed"] .dot { background: #ef4444; }
.pill[data-state="stopped"] .dot { background: #f59e0b; }
.pill .bar { width: 90px; height: 5px; background: #374151; border-radius: 3px; overflow: hidden; }
.pill .bar > span { display: block; height: 100%; background: #60a5fa; }
@keyframes pulse { 50% { opacity: .35; } }
.connection { font-size: 12px; color: #9ca3af; }
.connection[data-ok="true"]::before { content: "● "; color: #22c55e; }
.connection[data-ok="false"]::before { content: "● "; color: #ef4444; }
main { padding: 16px 20px; display: grid; gap: 16px; max-width: 1600px; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.card h2 { font-size: 15px; margin: 0 0 8px; }
.card h3 { font-size: 14px; margin: 14px 0 6px; }
.card-head { display: flex; align-items: baseline; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
.card-head p { margin: 0 0 8px; }
.muted { color: var(--muted); }
.toolbar { display: flex; gap: 18px; align-items: center; color: var(--muted); font-size: 13px; }
.toolbar input[type=range] { width: 120px; vertical-align: middle; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 6px; position: relative; }
.chart.wide { grid-column: 1 / -1; }
.chart h4 { margin: 0; font-size: 13px; font-weight: 600; }
.chart canvas { display: block; width: 100%; height: 220px; }
.chart.wide canvas { height: 280px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted); margin: 4px 0 6px; }
.legend .key { display: inline-flex; align-items: center; gap: 5px; }
.legend .key i { display: inline-block; width: 16px; height: 0; border-top: 3px solid; }
.legend .key i.dashed { border-top-style: dashed; }
.strips { display: grid; gap: 14px; }
.strip { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; overflow-x: auto; }
.strip-head { display: flex; gap: 12px; align-items: center; font-size: 13px; margin-bottom: 6px; flex-wrap: wrap; }
.strip-head b { font-weight: 600; }
.strip-head input[type=range] { width: 200px; }
.strip canvas { display: block; image-rendering: pixelated; }
.swatch-overlay { display: inline-block; width: 10px; height: 10px; background: var(--overlay); border-radius: 2px; vertical-align: middle; }
.empty { color: var(--muted); font-style: italic; padding: 8px 0; }
table.facts { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
table.facts th, table.facts td { text-align: left; padding: 4px 14px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
table.facts thead th { color: var(--muted); font-weight: 600; }
table.facts tbody th { color: var(--muted); font-weight: 500; white-space: nowrap; }
table.facts td { font-variant-numeric: tabular-nums; word-break: break-all; }
details { margin: 4px 0; }
summary { cursor: pointer; color: var(--accent); }
pre { background: #f8fafc; border: 1px solid var(--line); border-radius: 6px; padding: 8px; overflow: auto; max-height: 420px; font-size: 12px; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 8px 0 24px; }
.tooltip { position: fixed; z-index: 10; pointer-events: none; background: rgba(17,24,39,.94); color: #f9fafb; border-radius: 6px;
  padding: 6px 8px; font-size: 12px; line-height: 1.45; font-variant-numeric: tabular-nums; max-width: 360px; }
.tooltip i { display: inline-block; width: 8px; height: 8px; border-radius: 2px; margin-right: 5px; }
`;
