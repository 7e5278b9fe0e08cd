// Every `stillmotion` command, one module each, loaded only when that command runs (as the
// changesets CLI does): a module pulls in onnxruntime, sharp, ZeroMQ or gRPC, and `--help` or
// `stillmotion status` should not pay for all of them. `summary` is what the overall help shows
// without loading the module; index.test.ts checks it against the module's own description.
import type { Command } from "commander";

export interface CommandModule {
  register(program: Command): void;
}

export interface CommandEntry {
  /** Words that name the command, e.g. ["dataset", "import", "frames"]. */
  path: readonly string[];
  summary: string;
  load(): Promise<CommandModule>;
}

/** Descriptions of the groups that hold commands (their modules give the same ones). */
export const GROUP_SUMMARIES: Readonly<Record<string, string>> = {
  runs: "list, show and compare run directories",
  dataset: "import, check and describe datasets (docs/datasets.md)",
  "dataset import": "turn frames, videos, stills or DICOM cine loops into a dataset",
};

/** In the order `--help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    path: ["doctor"],
    summary: "check the toolchain: spawn the trainer, call it over gRPC, hear its ZeroMQ telemetry",
    load: () => import("./doctor.js"),
  },
  {
    path: ["train"],
    summary: "train the generator with the Python trainer, supervised over gRPC + ZeroMQ",
    load: () => import("./train.js"),
  },
  {
    path: ["stop"],
    summary: "ask a run to stop gracefully (finish the step, checkpoint)",
    load: () => import("./control.js"),
  },
  {
    path: ["status"],
    summary: "where a run is: live over gRPC, else from its directory",
    load: () => import("./control.js"),
  },
  {
    path: ["resume"],
    summary: "continue a run from its latest checkpoint, with its frozen config",
    load: () => import("./control.js"),
  },
  {
    path: ["runs", "list"],
    summary: "every run under a folder, newest first",
    load: () => import("./runs.js"),
  },
  {
    path: ["runs", "show"],
    summary: "one run: state, last losses, best validation loss, checkpoints",
    load: () => import("./runs.js"),
  },
  { path: ["runs", "compare"], summary: "several runs side by side", load: () => import("./runs.js") },
  {
    path: ["sweep"],
    summary: "run a grid or a list of config variants one after another and compare them",
    load: () => import("./sweep.js"),
  },
  {
    path: ["dashboard"],
    summary: "live dashboard in the browser: loss curves, lr, throughput, predicted frames with masks",
    load: () => import("./dashboard.js"),
  },
  {
    path: ["report"],
    summary: "write a self-contained HTML report: curves, predicted frames, run info, eval sections",
    load: () => import("./report.js"),
  },
  {
    path: ["export"],
    summary: "export a run's generator to ONNX (inputs image, mask; outputs next_image, next_mask)",
    load: () => import("./export.js"),
  },
  {
    path: ["generate"],
    summary: "turn stills (a dataset, or a folder of images/ + masks/) into videos with masks",
    load: () => import("./generate.js"),
  },
  {
    path: ["adapt"],
    summary:
      "fit a checkpoint's learned mask correction to a dataset's key frames (about a minute per video " +
      "at 128 px on CPU); writes a weights-only checkpoint and, with --onnx, the model for `stillmotion propagate`",
    load: () => import("./adapt.js"),
  },
  {
    path: ["propagate"],
    summary: "propagate key-frame masks through every video of a dataset",
    load: () => import("./propagate.js"),
  },
  {
    path: ["quickstart"],
    summary: "the whole product on generated data: data, train, export, generate, propagate, eval, report",
    load: () => import("./quickstart.js"),
  },
  {
    path: ["eval"],
    summary:
      "score mask propagation (Dice, IoU, boundary F) and next-frame prediction (PSNR, SSIM) on a dataset with ground-truth masks, beside copy-key-mask, optical-flow and copy-last-frame baselines",
    load: () => import("./eval.js"),
  },
  {
    path: ["dataset", "import", "frames"],
    summary: "a folder of frame images (one video, natural file order) with optional mask folders",
    load: () => import("./dataset/import-frames.js"),
  },
  {
    path: ["dataset", "import", "video"],
    summary: "a video file decoded by ffmpeg (/usr/bin/ffmpeg or $STILLMOTION_FFMPEG)",
    load: () => import("./dataset/import-video.js"),
  },
  {
    path: ["dataset", "import", "stills"],
    summary:
      "still images with masks: images/ + masks/ (Kvasir-SEG) or Original/ + Ground Truth/ (CVC-ClinicDB)",
    load: () => import("./dataset/import-stills.js"),
  },
  {
    path: ["dataset", "import", "dicom"],
    summary: "a multi-frame DICOM cine loop (uncompressed; modality defaults to ultrasound)",
    load: () => import("./dataset/import-dicom.js"),
  },
  {
    path: ["dataset", "import", "clips"],
    summary:
      "a folder of clips: every sub-folder holding a frames folder is one video (natural order); its masks folder, matched by file stem, gives evaluation masks",
    load: () => import("./dataset/import-clips.js"),
  },
  {
    path: ["dataset", "check"],
    summary: "validate a dataset: manifest, every image decodes, sizes match, masks binary",
    load: () => import("./dataset/check.js"),
  },
  {
    path: ["dataset", "stats"],
    summary: "counts, sizes, masks per video, and the distribution of d between frames",
    load: () => import("./dataset/stats.js"),
  },
  {
    path: ["keyframes"],
    summary: "choose key frames by sharpness, exposure and lesion position (METHOD.md claims 8-10)",
    load: () => import("./keyframes.js"),
  },
  {
    path: ["calibrate"],
    summary: "suggest θ's γ1 (d threshold) and γ2 (mask margin) from the dataset, explaining why",
    load: () => import("./calibrate.js"),
  },
];

/** The entry `args` (the words after `stillmotion`) runs, if they name one; `help <command>` too. */
export function commandFor(args: readonly string[]): CommandEntry | undefined {
  const words = args[0] === "help" ? args.slice(1) : args;
  return COMMANDS.find((entry) => entry.path.every((word, i) => words[i] === word));
}

/** Every command module, each once (several entries can share a module). */
export async function loadAll(): Promise<CommandModule[]> {
  const modules = await Promise.all(COMMANDS.map((entry) => entry.load()));
  return [...new Set(modules)];
}

/** `--help` without loading anything: each command (and group) as its name and summary. */
export function registerSummaries(program: Command): void {
  for (const entry of COMMANDS) {
    let parent = program;
    entry.path.slice(0, -1).forEach((word, i) => {
      const name = entry.path.slice(0, i + 1).join(" ");
      parent =
        parent.commands.find((c) => c.name() === word) ??
        parent.command(word).description(GROUP_SUMMARIES[name] ?? "");
    });
    parent.command(entry.path[entry.path.length - 1]).description(entry.summary);
  }
}
