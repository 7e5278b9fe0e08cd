import { execFileSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import dcmjs from "dcmjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { loadFrame, readPixels } from "./images.js";
import { importDicom } from "./import-dicom.js";
import { loadManifest } from "./manifest.js";

const { DicomMetaDictionary, datasetToBuffer } = dcmjs.data;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "sm-dicom-"));
  dcmjs.log.setLevel("error");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A multi-frame ultrasound cine written by dcmjs; pixel value = 10 * frame + column. */
async function cine(name: string, overrides: Record<string, unknown> = {}, rows = 6, cols = 8, frames = 4) {
  const px = new Uint8Array(rows * cols * frames);
  for (let f = 0; f < frames; f++)
    for (let i = 0; i < rows * cols; i++) px[f * rows * cols + i] = 10 * f + (i % cols);
  const ds = {
    _meta: { TransferSyntaxUID: { Value: ["1.2.840.10008.1.2.1"] } },
    SOPClassUID: "1.2.840.10008.5.1.4.1.1.3.1", // Ultrasound Multi-frame Image Storage
    SOPInstanceUID: DicomMetaDictionary.uid(),
    Modality: "US",
    Rows: rows,
    Columns: cols,
    NumberOfFrames: String(frames),
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    FrameTime: 50,
    PixelData: px.buffer,
    ...overrides,
  };
  Object.assign(ds, { _vrMap: { PixelData: ds.BitsAllocated === 16 ? "OW" : "OB" } });
  const file = path.join(dir, name);
  await writeFile(file, datasetToBuffer(ds));
  return file;
}

async function rejection(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

describe("importDicom", () => {
  it("imports every frame of a multi-frame cine with its frame rate", async () => {
    const file = await cine("loop.dcm");
    const out = path.join(dir, "ds");
    expect(await importDicom({ file, out })).toMatchObject({ videos: 1, frames: 4 });
    const m = await loadManifest(out);
    expect(m.data).toMatchObject({ modality: "ultrasound", channels: 1 });
    expect(m.data.videos[0]).toMatchObject({ id: "loop", fps: 20, width: 8, height: 6 });
    const f2 = await loadFrame(path.join(out, m.data.videos[0].frames[2].image), 1);
    expect(Math.round(f2.data[3] * 255)).toBe(23); // frame 2, column 3
    expect((await checkDataset(m)).ok).toBe(true);
  });

  it("inverts MONOCHROME1 and scales 16-bit samples", async () => {
    const inverted = await cine("m1.dcm", { PhotometricInterpretation: "MONOCHROME1" });
    await importDicom({ file: inverted, out: path.join(dir, "m1") });
    const a = await loadFrame(path.join(dir, "m1/frames/m1/000000.png"), 1);
    expect(Math.round(a.data[1] * 255)).toBe(254);
    const px16 = new Uint16Array(2 * 2 * 1).fill(4095);
    const deep = await cine(
      "deep.dcm",
      { BitsAllocated: 16, BitsStored: 12, HighBit: 11, PixelData: px16.buffer },
      2,
      2,
      1,
    );
    await importDicom({ file: deep, out: path.join(dir, "deep") });
    const b = await loadFrame(path.join(dir, "deep/frames/deep/000000.png"), 1);
    expect(b.data[0]).toBe(1);
  });

  it("names every refusal", async () => {
    const out = path.join(dir, "bad");
    const notDicom = path.join(dir, "not.dcm");
    await writeFile(notDicom, Buffer.alloc(300));
    expect((await rejection(importDicom({ file: notDicom, out }))).reason).toBe("unreadable_image");
    const short = await cine("short.dcm", { NumberOfFrames: "9" });
    const e = await rejection(importDicom({ file: short, out }));
    expect([e.reason, e.file, e.message.includes("missing frames")]).toEqual([
      "unreadable_image",
      short,
      true,
    ]);
    const noRate = await cine("norate.dcm", { FrameTime: undefined });
    expect((await rejection(importDicom({ file: noRate, out }))).message).toContain("--fps");
    expect(await importDicom({ file: noRate, out, fps: 12 })).toMatchObject({ frames: 4 });
    // not dcmjs's to decode: the trainer's decoder refuses it, still naming the file
    const palette = await cine("pal.dcm", { PhotometricInterpretation: "PALETTE COLOR" });
    const noLut = await rejection(importDicom({ file: palette, out: path.join(dir, "p") }));
    expect([noLut.reason, noLut.file, noLut.detail]).toEqual([
      "unreadable_image",
      palette,
      expect.stringContaining("PALETTE COLOR lookup tables unusable"),
    ]);
    const partial = await cine("ybrp.dcm", { PhotometricInterpretation: "YBR_PARTIAL_420" });
    const refused = await rejection(importDicom({ file: partial, out: path.join(dir, "yp") }));
    expect([refused.reason, refused.message]).toEqual([
      "unsupported_input",
      expect.stringContaining("allowed:"),
    ]);
    const huge = await cine("huge.dcm", { Rows: 0 });
    expect((await rejection(importDicom({ file: huge, out: path.join(dir, "h") }))).reason).toBe(
      "bad_dimensions",
    );
    const rgbWanted = await rejection(importDicom({ file: short, out: path.join(dir, "c"), channels: 3 }));
    expect(rgbWanted.reason).toBe("wrong_channels");
  });
});

/** Real public files of each transfer syntax: python-trainer/tests/data/dicom/README.md. */
const FIXTURES = path.resolve(import.meta.dirname, "../../../../python-trainer/tests/data/dicom");

let imports = 0;

/** 8-bit interleaved samples of every frame of an imported video. */
async function importedSamples(name: string, channels: 1 | 3 = 3) {
  const out = path.join(dir, `real-${++imports}-${name}`);
  const fps = name === "US-PAL-8-10x-echo.dcm" ? undefined : 10; // the one fixture with a FrameTime
  const result = await importDicom({ file: path.join(FIXTURES, name), out, channels, fps });
  const m = await loadManifest(out);
  const frames = await Promise.all(
    m.data.videos[0].frames.map(async (f) => (await readPixels(path.join(out, f.image), channels)).data),
  );
  return { result, video: m.data.videos[0], source: m.data.source as Record<string, unknown>, frames };
}

/**
 * pydicom's reference decode of a fixture as 8-bit display samples, every frame: pixel_array
 * through pydicom's default handlers (its numpy RLE decoder first for RLE), PALETTE COLOR through
 * apply_color_lut (16-bit entries: high byte), YBR_FULL* through convert_color_space.
 */
function pydicomReference(name: string): Buffer {
  const script = `
import sys, warnings
warnings.simplefilter("ignore")
import numpy as np, pydicom
from pydicom import config
from pydicom.pixel_data_handlers import rle_handler, gdcm_handler, numpy_handler
from pydicom.pixel_data_handlers.util import apply_color_lut, convert_color_space
config.pixel_data_handlers = [numpy_handler, rle_handler, gdcm_handler]
ds = pydicom.dcmread(sys.argv[1])
a = ds.pixel_array
pi = ds.PhotometricInterpretation
if pi == "PALETTE COLOR":
    a = apply_color_lut(a, ds)
    a = a if a.dtype == np.uint8 else (a >> 8).astype(np.uint8)
elif pi in ("YBR_FULL", "YBR_FULL_422"):
    a = convert_color_space(a, "YBR_FULL", "RGB")
sys.stdout.buffer.write(np.ascontiguousarray(a, dtype=np.uint8).tobytes())
`;
  return execFileSync(
    process.env.STILLMOTION_PYTHON ?? "/usr/bin/python3",
    ["-c", script, path.join(FIXTURES, name)],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe("importDicom on real scanner files (compressed, big endian, palette)", () => {
  it("imports a 10-frame RLE PALETTE COLOR echo cine through its LUT, with fps from FrameTime", async () => {
    const { result, video, source, frames } = await importedSamples("US-PAL-8-10x-echo.dcm");
    expect(result).toMatchObject({ videos: 1, frames: 10 });
    expect(video).toMatchObject({ width: 600, height: 430 });
    expect(video.fps).toBeCloseTo(1000 / 76, 6);
    expect(source).toMatchObject({
      transferSyntax: "1.2.840.10008.1.2.5",
      photometric: "PALETTE COLOR",
      decoder: expect.stringContaining("GDCM"),
    });
    expect(maxDiff(Buffer.concat(frames), pydicomReference("US-PAL-8-10x-echo.dcm"))).toBe(0);
  });

  it("gives RLE and Explicit VR Big Endian the pixels of their uncompressed twin, bit for bit", async () => {
    const twin = (await importedSamples("SC_rgb.dcm")).frames[0];
    for (const name of ["SC_rgb_rle.dcm", "SC_rgb_expb.dcm"]) {
      const { frames, source } = await importedSamples(name);
      expect(source.decoder).not.toBe("dcmjs");
      expect(maxDiff(frames[0], twin)).toBe(0);
    }
    const bigEndianUs = await importedSamples("ExplVR_BigEnd.dcm"); // planar RGB ultrasound
    expect(maxDiff(bigEndianUs.frames[0], pydicomReference("ExplVR_BigEnd.dcm"))).toBe(0);
  });

  it("converts JPEG Baseline YBR_FULL and YBR_FULL_422 to RGB close to the twin", async () => {
    const twin = (await importedSamples("SC_rgb.dcm")).frames[0];
    for (const name of ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm"]) {
      const { frames, source } = await importedSamples(name);
      expect(source.transferSyntax).toBe("1.2.840.10008.1.2.4.50");
      expect(maxDiff(frames[0], pydicomReference(name))).toBe(0);
      expect(maxDiff(frames[0], twin)).toBeLessThanOrEqual(8); // lossy; unconverted YBR is off by ~255
    }
  });

  it("decodes JPEG-LS lossless and JPEG 2000 (YBR_RCT, YBR_ICT) to pydicom's reference", async () => {
    const jls = await importedSamples("JLSL_08_07_0_1F.dcm", 1);
    // 8-bit samples are taken as they are (BitsStored 7 here), as for a dcmjs-parsed file
    expect(maxDiff(jls.frames[0], pydicomReference("JLSL_08_07_0_1F.dcm"))).toBe(0);
    for (const name of ["GDCMJ2K_TextGBR.dcm", "US1_J2KI.dcm"]) {
      const { frames } = await importedSamples(name);
      expect(maxDiff(frames[0], pydicomReference(name))).toBe(0);
    }
  });

  it("refuses a corrupt compressed file in one typed error naming it", async () => {
    const bad = path.join(dir, "corrupt-J2KI.dcm");
    await copyFile(path.join(FIXTURES, "US1_J2KI.dcm"), bad);
    const bytes = await readFile(bad);
    const codestream = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51])); // J2K SOC + SIZ
    for (let i = codestream + 16; i < bytes.length - 64; i++) bytes[i] = (7 * i + 3) % 256;
    await writeFile(bad, bytes);
    const e = await rejection(importDicom({ file: bad, out: path.join(dir, "corrupt"), channels: 3 }));
    expect([e.reason, e.file]).toEqual(["unreadable_image", bad]);
    expect(e.message).toMatch(/corrupt: GDCM could not decode it \[unreadable_image\]$/);
    expect(e.message.split("\n")).toHaveLength(1);
  });
});
