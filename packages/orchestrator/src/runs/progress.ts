/**
 * Terminal progress for a run: a bar with ETA and the current loss terms (cli-progress) on a
 * TTY; on a pipe, one plain line every `everySteps` steps so logs stay readable. With a time
 * budget (stop.time_budget_s) the lines also say how much of it is spent, since the step limit
 * then rarely is what stops the run.
 */
import cliProgress from "cli-progress";
import type { TelemetryEvent } from "../trainer/telemetry-subscriber.js";

const TERMS: Array<[string, string]> = [
  ["total", "loss"],
  ["image", "L_I"],
  ["mask_first", "L_M1"],
  ["mask_second", "L_M2"],
];

export function formatTerms(scalars: Record<string, number>): string {
  return TERMS.filter(([key]) => key in scalars)
    .map(([key, label]) => `${label} ${scalars[key].toFixed(4)}`)
    .join(" | ");
}

/** "m:ss" of a duration in seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class RunProgress {
  private bar?: cliProgress.SingleBar;
  private lastPrinted = 0;
  private startedAt = Date.now();

  constructor(
    private readonly totalSteps: number | null,
    private readonly tty = Boolean(process.stderr.isTTY),
    private readonly everySteps = 25,
    private readonly timeBudgetS: number | null = null,
  ) {}

  /** "1:23/4:00 of the time budget", or "" without a budget. */
  private budgetText(): string {
    if (!this.timeBudgetS) return "";
    const spent = (Date.now() - this.startedAt) / 1000;
    return `${formatDuration(spent)}/${formatDuration(this.timeBudgetS)} of the time budget`;
  }

  onEvent(event: TelemetryEvent): void {
    if (event.runStarted) this.start(Number(event.runStarted.startStep));
    if (event.step) this.update(Number(event.step.step), event.step.scalars);
    if (event.runEnded) this.stop();
  }

  private start(startStep: number): void {
    this.startedAt = Date.now();
    if (!this.tty) return;
    this.bar?.stop();
    this.bar = new cliProgress.SingleBar(
      {
        format: this.timeBudgetS
          ? "train {value} steps | {budget} | {terms} | {rate}"
          : "train [{bar}] {value}/{total} | ETA {eta_formatted} | {terms} | {rate}",
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(this.totalSteps ?? 0, startStep, { terms: "", rate: "", budget: this.budgetText() });
  }

  private update(step: number, scalars: Record<string, number>): void {
    const rate = scalars.samples_per_s ? `${scalars.samples_per_s.toFixed(1)} samples/s` : "";
    if (this.bar) {
      this.bar.update(step, { terms: formatTerms(scalars), rate, budget: this.budgetText() });
    } else if (step - this.lastPrinted >= this.everySteps || step === this.totalSteps) {
      this.lastPrinted = step;
      const of = this.timeBudgetS ? ` | ${this.budgetText()}` : this.totalSteps ? `/${this.totalSteps}` : "";
      process.stderr.write(`step ${step}${of} | ${formatTerms(scalars)} | ${rate}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
