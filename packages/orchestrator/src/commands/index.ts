// Every `stillmotion` command, one module each; cli.ts registers them in this order.
import type { Command } from "commander";
import * as calibrate from "./calibrate.js";
import * as control from "./control.js";
import * as dashboard from "./dashboard.js";
import * as datasetCheck from "./dataset/check.js";
import * as importClips from "./dataset/import-clips.js";
import * as importDicom from "./dataset/import-dicom.js";
import * as importFrames from "./dataset/import-frames.js";
import * as importStills from "./dataset/import-stills.js";
import * as importVideo from "./dataset/import-video.js";
import * as datasetStats from "./dataset/stats.js";
import * as doctor from "./doctor.js";
import * as evalCmd from "./eval.js";
import * as exportCmd from "./export.js";
import * as generate from "./generate.js";
import * as keyframes from "./keyframes.js";
import * as propagate from "./propagate.js";
import * as quickstart from "./quickstart.js";
import * as report from "./report.js";
import * as runs from "./runs.js";
import * as sweep from "./sweep.js";
import * as train from "./train.js";

export const commands: Array<{ register(program: Command): void }> = [
  doctor,
  train,
  control,
  runs,
  sweep,
  dashboard,
  report,
  exportCmd,
  generate,
  propagate,
  quickstart,
  evalCmd,
  importFrames,
  importVideo,
  importStills,
  importDicom,
  importClips,
  datasetCheck,
  datasetStats,
  keyframes,
  calibrate,
];
