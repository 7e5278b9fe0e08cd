// The dashboard and report: live server, static report with its section extension point, preview store.

export type { ChartSeries, ChartSpec, PageData, ReportSection, SampleStrip } from "./page-data.js";
export {
  listPreviewFiles,
  readPreview,
  type StoredPreview,
  savePreview,
  toStoredPreview,
} from "./preview-store.js";
export {
  readReportSections,
  renderReport,
  reportPath,
  sampleStrip,
  saveReportSection,
  writeCompareReport,
  writeReport,
} from "./report.js";
export { escapeHtml } from "./run-info.js";
export { LiveRunSource, type RunSource, type RunUpdate, TailRunSource } from "./run-source.js";
export { loadRunView, type RunStatus, type RunView } from "./run-view.js";
export { type Dashboard, type DashboardOptions, DEFAULT_PORT, startDashboard } from "./server.js";
export { TrainDashboard } from "./train-dashboard.js";
