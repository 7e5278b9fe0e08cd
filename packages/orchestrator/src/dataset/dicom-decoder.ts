/**
 * DICOM files dcmjs cannot turn into pixels (compressed transfer syntaxes, big endian, PALETTE
 * COLOR, YBR) are decoded by the trainer's `dicom-decode` command (pydicom + GDCM, see
 * python-trainer/stillmotion_trainer/data/dicom_decode.py): it writes the display samples as raw
 * little-endian bytes and reports the header, which the importer then checks and writes as PNGs
 * exactly like a dcmjs-parsed file.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { StillMotionError } from "../errors.js";
import { runTrainerCommand } from "../trainer/python-command.js";
import { DATASET_REASONS, DatasetError, type DatasetReason, errorMessage } from "./errors.js";

export interface DecodedDicom {
  /** Header fields named as in the DICOM dictionary, describing `samples` (readCineHeader input). */
  header: Record<string, unknown>;
  /** Every frame, interleaved samples, little endian. */
  samples: Buffer;
  transferSyntax: string;
  sourcePhotometric: string;
  decoder: string;
}

interface DecodeReport {
  header: Record<string, unknown>;
  transferSyntax: string;
  sourcePhotometric: string;
  decoder: string;
}

/** `dicom-decode: <detail> [reason]` from the trainer -> the DatasetError it describes. */
export function decoderError(file: string, cause: unknown): DatasetError {
  const message = errorMessage(cause).replace(/^dicom-decode: /, "");
  const tagged = /^(.*) \[(\w+)\]$/s.exec(message);
  if (cause instanceof StillMotionError && tagged && tagged[2] in DATASET_REASONS) {
    return new DatasetError(tagged[2] as DatasetReason, file, tagged[1], { cause });
  }
  return new DatasetError("tool_failed", file, `the DICOM decoder (python dicom-decode) failed: ${message}`, {
    cause,
  });
}

export async function decodeWithTrainer(file: string): Promise<DecodedDicom> {
  const dir = await mkdtemp(path.join(tmpdir(), "sm-dicom-decode-"));
  try {
    const out = path.join(dir, "samples.raw");
    let report: DecodeReport;
    try {
      // absolute: the trainer runs in python-trainer/
      report = await runTrainerCommand<DecodeReport>(["dicom-decode", path.resolve(file), "--out", out]);
    } catch (cause) {
      throw decoderError(file, cause);
    }
    return { ...report, samples: await readFile(out) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
