/**
 * `stillmotion dataset import dicom <file>`: a multi-frame DICOM cine loop (typically
 * ultrasound) into PNG frames. Uncompressed little-endian MONOCHROME/RGB files are parsed by
 * dcmjs here; everything else real scanners write (RLE, JPEG Baseline, JPEG-LS, JPEG 2000,
 * Explicit VR Big Endian; PALETTE COLOR and YBR colour) is decoded by the trainer's pydicom + GDCM
 * decoder (dicom-decoder.ts) into the same samples, then checked and written the same way.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import dcmjs from "dcmjs";
import { decodeWithTrainer } from "./dicom-decoder.js";
import { DatasetError, errorMessage } from "./errors.js";
import { writePng } from "./images.js";
import {
  type CommonImportOptions,
  type ImportResult,
  importDataset,
  resolveChannels,
  stem,
  toVideoId,
} from "./import-common.js";
import { MAX_PIXELS, type VideoEntry } from "./manifest.js";

export const UNCOMPRESSED_SYNTAXES: Record<string, string> = {
  "1.2.840.10008.1.2": "Implicit VR Little Endian",
  "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
  "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
};

/** Photometric interpretations dcmjs-parsed samples are used in as they are. */
export const NATIVE_PHOTOMETRICS = ["MONOCHROME1", "MONOCHROME2", "RGB"];

export interface ImportDicomOptions extends CommonImportOptions {
  file: string;
  /** Default: from FrameTime, CineRate or RecommendedDisplayFrameRate in the file. */
  fps?: number;
  id?: string;
}

/** What the importer needs from the DICOM header, checked. */
export interface CineHeader {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: 1 | 3;
  photometric: "MONOCHROME1" | "MONOCHROME2" | "RGB";
  bitsAllocated: 8 | 16;
  bitsStored: number;
  planar: boolean;
  fps?: number;
}

function num(v: unknown): number | undefined {
  const n = Array.isArray(v)
    ? Number(v[0])
    : typeof v === "string" || typeof v === "number"
      ? Number(v)
      : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Check the header fields; every refusal names the field and the value found. */
export function readCineHeader(ds: Record<string, unknown>, file: string): CineHeader {
  const bad = (detail: string) => new DatasetError("unsupported_input", file, detail);
  const rows = num(ds.Rows);
  const columns = num(ds.Columns);
  if (
    !rows ||
    !columns ||
    rows < 1 ||
    columns < 1 ||
    rows > 16384 ||
    columns > 16384 ||
    rows * columns > MAX_PIXELS
  ) {
    throw new DatasetError(
      "bad_dimensions",
      file,
      `Rows x Columns = ${ds.Rows} x ${ds.Columns} is not a usable frame size`,
    );
  }
  const frames = num(ds.NumberOfFrames) ?? 1;
  if (!Number.isInteger(frames) || frames < 1)
    throw new DatasetError("empty_video", file, `NumberOfFrames = ${ds.NumberOfFrames}`);
  const spp = num(ds.SamplesPerPixel) ?? 1;
  const photometric = String(ds.PhotometricInterpretation ?? "").trim();
  if (!["MONOCHROME1", "MONOCHROME2", "RGB"].includes(photometric)) {
    throw bad(
      `PhotometricInterpretation '${photometric}' not supported; allowed: MONOCHROME1, MONOCHROME2, RGB`,
    );
  }
  if ((photometric === "RGB") !== (spp === 3) || (spp !== 1 && spp !== 3)) {
    throw bad(`SamplesPerPixel ${spp} does not fit PhotometricInterpretation ${photometric}`);
  }
  const bitsAllocated = num(ds.BitsAllocated);
  if (bitsAllocated !== 8 && bitsAllocated !== 16)
    throw bad(`BitsAllocated ${ds.BitsAllocated} not supported; allowed: 8, 16`);
  if ((num(ds.PixelRepresentation) ?? 0) !== 0)
    throw bad("signed pixel data (PixelRepresentation 1) not supported");
  const bitsStored = num(ds.BitsStored) ?? bitsAllocated;
  const frameTime = num(ds.FrameTime);
  const fps =
    frameTime && frameTime > 0 ? 1000 / frameTime : (num(ds.CineRate) ?? num(ds.RecommendedDisplayFrameRate));
  return {
    rows,
    columns,
    frames,
    samplesPerPixel: spp as 1 | 3,
    photometric: photometric as CineHeader["photometric"],
    bitsAllocated,
    bitsStored,
    planar: (num(ds.PlanarConfiguration) ?? 0) === 1,
    fps,
  };
}

/** Frame `f` of the pixel data as interleaved 8-bit samples (H x W x spp). */
export function frameSamples(pixels: Uint8Array, h: CineHeader, f: number): Uint8Array {
  const plane = h.rows * h.columns;
  const perFrame = plane * h.samplesPerPixel;
  const out = new Uint8Array(perFrame);
  const max = 2 ** h.bitsStored - 1;
  const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const bytes = h.bitsAllocated / 8;
  for (let i = 0; i < perFrame; i++) {
    // source index: interleaved (RGBRGB...) unless planar (RR..GG..BB..)
    const pixel = Math.floor(i / h.samplesPerPixel);
    const sample = i % h.samplesPerPixel;
    const src = f * perFrame + (h.planar ? sample * plane + pixel : i);
    let v = bytes === 1 ? pixels[src] : view.getUint16(src * 2, true) & max;
    if (bytes === 2) v = Math.round((v * 255) / max);
    out[i] = h.photometric === "MONOCHROME1" ? 255 - v : v;
  }
  return out;
}

function toChannels(samples: Uint8Array, spp: number, channels: 1 | 3): Uint8Array {
  if (spp === channels) return samples;
  const n = samples.length / spp;
  const out = new Uint8Array(n * channels);
  // RGB -> grey: Rec. 601 luma, the same weights the key-frame scorer uses
  for (let i = 0; i < n; i++)
    out[i] = Math.round(0.299 * samples[3 * i] + 0.587 * samples[3 * i + 1] + 0.114 * samples[3 * i + 2]);
  return out;
}

/** The cine's samples and header: parsed by dcmjs when it can, else by the trainer's decoder. */
async function readCine(file: string): Promise<{
  header: CineHeader;
  pixels: Uint8Array;
  source: Record<string, unknown>;
}> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new DatasetError("missing_file", file, "DICOM file not found", { cause });
  }
  dcmjs.log.setLevel("error");
  let parsed: ReturnType<typeof dcmjs.data.DicomMessage.readFile>;
  try {
    parsed = dcmjs.data.DicomMessage.readFile(new Uint8Array(bytes).buffer);
  } catch (cause) {
    throw new DatasetError("unreadable_image", file, `not a readable DICOM file: ${errorMessage(cause)}`, {
      cause,
    });
  }
  const syntax = String(parsed.meta["00020010"]?.Value?.[0] ?? "");
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict);
  const photometric = String(ds.PhotometricInterpretation ?? "").trim();
  if (!UNCOMPRESSED_SYNTAXES[syntax] || !NATIVE_PHOTOMETRICS.includes(photometric)) {
    const decoded = await decodeWithTrainer(file);
    return {
      header: readCineHeader(decoded.header, file),
      pixels: decoded.samples,
      source: {
        transferSyntax: decoded.transferSyntax,
        photometric: decoded.sourcePhotometric,
        decoder: decoded.decoder,
      },
    };
  }
  const header = readCineHeader(ds, file);
  const chunks = (Array.isArray(ds.PixelData) ? ds.PixelData : [ds.PixelData]).filter(
    Boolean,
  ) as ArrayBuffer[];
  const pixels = Buffer.concat(chunks.map((c) => new Uint8Array(c)));
  return {
    header,
    pixels,
    source: { transferSyntax: syntax, photometric: header.photometric, decoder: "dcmjs" },
  };
}

export async function importDicom(options: ImportDicomOptions): Promise<ImportResult> {
  const [modality, channels] = resolveChannels(options, "ultrasound");
  const { file } = options;
  const { header, pixels, source } = await readCine(file);
  if (header.samplesPerPixel === 1 && channels === 3) {
    throw new DatasetError("wrong_channels", file, "the cine loop is greyscale; import it with --channels 1");
  }
  const expected =
    header.rows * header.columns * header.samplesPerPixel * (header.bitsAllocated / 8) * header.frames;
  if (pixels.length < expected) {
    throw new DatasetError(
      "unreadable_image",
      file,
      `PixelData holds ${pixels.length} bytes, fewer than the ${expected} that ${header.frames} frame(s) of ` +
        `${header.columns}x${header.rows}x${header.samplesPerPixel} at ${header.bitsAllocated} bits need (missing frames?)`,
    );
  }
  const fps = options.fps ?? header.fps;
  if (!fps || !(fps > 0 && fps <= 1000)) {
    throw new DatasetError("unsupported_input", file, "no usable FrameTime/CineRate in the file; pass --fps");
  }
  const id = toVideoId(options.id ?? stem(file));
  return importDataset(options, async (root) => {
    const video: VideoEntry = { id, fps, width: header.columns, height: header.rows, frames: [] };
    for (let f = 0; f < header.frames; f++) {
      const rel = `frames/${id}/${String(f).padStart(6, "0")}.png`;
      const data = toChannels(frameSamples(pixels, header, f), header.samplesPerPixel, channels);
      await writePng(path.join(root, rel), { data, width: header.columns, height: header.rows, channels });
      video.frames.push({ image: rel });
    }
    return {
      format: "stillmotion-dataset",
      version: 1,
      name: options.name ?? id,
      modality,
      channels,
      source: {
        tool: "stillmotion dataset import dicom",
        from: path.resolve(file),
        ...source,
        ...(header.samplesPerPixel !== channels && { converted: "RGB to greyscale (Rec. 601 luma)" }),
      },
      videos: [video],
    };
  });
}
