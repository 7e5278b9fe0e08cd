import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import dcmjs from "dcmjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDataset } from "./check.js";
import { DatasetError } from "./errors.js";
import { loadFrame } from "./images.js";
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
    const palette = await cine("pal.dcm", { PhotometricInterpretation: "PALETTE COLOR" });
    expect((await rejection(importDicom({ file: palette, out: path.join(dir, "p") }))).message).toContain(
      "MONOCHROME2",
    );
    const huge = await cine("huge.dcm", { Rows: 0 });
    expect((await rejection(importDicom({ file: huge, out: path.join(dir, "h") }))).reason).toBe(
      "bad_dimensions",
    );
    const rgbWanted = await rejection(importDicom({ file: short, out: path.join(dir, "c"), channels: 3 }));
    expect(rgbWanted.reason).toBe("wrong_channels");
  });
});
