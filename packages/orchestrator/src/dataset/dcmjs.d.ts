// The part of dcmjs (no bundled types) the DICOM importer and its test use.
declare module "dcmjs" {
  interface DicomDictLike {
    meta: Record<string, { vr?: string; Value?: unknown[] }>;
    dict: Record<string, unknown>;
    write(): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDictLike };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Record<string, unknown>): Record<string, unknown>;
        uid(): string;
      };
      datasetToBuffer(dataset: Record<string, unknown>): Buffer;
    };
    log: { setLevel(level: string): void };
  };
  export default dcmjs;
}
