/**
 * What `train` adds for the dashboard and the report, in one object with three calls:
 * `start` (opens the live dashboard when asked), `onEvent` (keeps each preview in
 * run_dir/previews/, feeds the dashboard) and `finish` (writes run_dir/report.html, closes the
 * dashboard). Keeping it here leaves train.ts a few lines.
 */
import { asStillMotionError, Code, StillMotionError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";
import { savePreview, toStoredPreview } from "./preview-store.js";
import { writeReport } from "./report.js";
import { LiveRunSource } from "./run-source.js";
import { type Dashboard, DEFAULT_PORT, startDashboard } from "./server.js";

/** `--dashboard [port]`: true = the default port; a string must be a port number (0 = any free one). */
export function parseDashboardPort(value: string | boolean | number): number {
  if (value === true) return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || value === "") {
    throw new StillMotionError(
      Code.INVALID_ARGUMENT,
      `--dashboard: the port must be an integer 0-65535, got "${value}"`,
    );
  }
  return port;
}

export interface TrainDashboardOptions {
  /** `--dashboard [port]`; undefined or false = no live dashboard (previews and report still). */
  dashboard?: string | boolean | number;
  host?: string;
  logger: Logger;
  /** Where the URL and the report path are announced (default stderr). */
  print?: (line: string) => void;
}

export class TrainDashboard {
  private started = false;
  private warned = false;

  private constructor(
    private readonly runDir: string,
    private readonly options: TrainDashboardOptions,
    private readonly live?: LiveRunSource,
    private readonly server?: Dashboard,
  ) {}

  static async start(runDir: string, options: TrainDashboardOptions): Promise<TrainDashboard> {
    if (options.dashboard === undefined || options.dashboard === false)
      return new TrainDashboard(runDir, options);
    const port = parseDashboardPort(options.dashboard);
    const live = new LiveRunSource(runDir);
    const server = await startDashboard({ sources: [live], port, host: options.host });
    const self = new TrainDashboard(runDir, options, live, server);
    self.print(`dashboard: ${server.url}`);
    return self;
  }

  /** The dashboard's URL, when one is open. */
  get url(): string | undefined {
    return this.server?.url;
  }

  onEvent(event: TelemetryEvent): void {
    if (event.runStarted) this.started = true;
    try {
      const stored = this.live?.onEvent(event);
      if (event.preview && event.preview.images.length > 0) {
        savePreview(this.runDir, stored ?? toStoredPreview(event.preview, event.timeUnixS));
      }
    } catch (err) {
      // Previews and the live page are conveniences: a full disk or a malformed preview must
      // not stop the training. Said once, in the run's log.
      // One line, no stack: on a full disk this is expected, not a bug.
      if (!this.warned) {
        this.options.logger.warn(
          `dashboard/preview update failed (${asStillMotionError(err).message}); the run goes on`,
        );
      }
      this.warned = true;
    }
  }

  /**
   * Writes the report (when the trainer did start: a refused run directory keeps its old report)
   * and closes the dashboard. `error` is why the run failed, if it did. Returns the report path.
   *
   * A report that cannot be written (a full disk) fails a run that had succeeded: exit 0 with no
   * report.html would tell the user all is well. After a failed run it is only a warning line:
   * the run's own error is the one the user must read.
   */
  async finish(error?: unknown): Promise<string | undefined> {
    const reason = error ? `failed: ${error instanceof Error ? error.message : String(error)}` : undefined;
    if (reason) this.live?.markFailed(reason);
    try {
      if (!this.started) return undefined;
      const report = await this.writeRunReport(reason);
      this.print(`report: ${report}`);
      return report;
    } catch (err) {
      const failure = asStillMotionError(err); // the atomic writer names the report
      if (!error) throw failure;
      this.options.logger.warn(`report not written (${failure.message}); \`stillmotion report\` can retry`);
      return undefined;
    } finally {
      this.live?.close();
      await this.server?.close();
    }
  }

  private writeRunReport(reason: string | undefined): Promise<string> {
    return writeReport(this.runDir, reason ? { status: { state: "failed", reason } } : {});
  }

  private print(line: string): void {
    (this.options.print ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  }
}
