/** A progress bar for item-by-item work (stills, videos) on stderr; plain lines on a pipe. */
import cliProgress from "cli-progress";

export interface StepBar {
  update(done: number, total: number, label: string): void;
  stop(): void;
}

export function stepBar(title: string, tty = Boolean(process.stderr.isTTY)): StepBar {
  if (!tty) {
    return {
      update: (done, total, label) => process.stderr.write(`${title} ${done}/${total} ${label}\n`),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {value}/{total} | ETA {eta_formatted} | {label}`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label) {
      if (!started) {
        bar.start(total, 0, { label: "" });
        started = true;
      }
      bar.update(done, { label });
    },
    stop: () => bar.stop(),
  };
}
