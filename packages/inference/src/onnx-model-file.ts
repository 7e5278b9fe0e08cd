/**
 * Reads the top level of an ONNX file (a protobuf `ModelProto`) without onnxruntime: producer,
 * opsets and the `metadata_props` the StillMotion exporter writes. onnxruntime-node does not
 * expose custom metadata, and reading it first lets a corrupt or foreign file fail with a precise
 * message before a session is built.
 *
 * Only the wire format is decoded (varints and length-delimited fields); the graph is skipped.
 */
import { Code, InferenceError } from "./errors.js";

export interface OnnxModelHeader {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  hasGraph: boolean;
}

// ModelProto field numbers (onnx/onnx.proto)
const IR_VERSION = 1;
const PRODUCER_NAME = 2;
const PRODUCER_VERSION = 3;
const GRAPH = 7;
const OPSET_IMPORT = 8;
const METADATA_PROPS = 14;

class Corrupt extends Error {}

/** Parse the ModelProto header of `bytes`; DATA_LOSS naming `file` when it is not valid ONNX. */
export function readOnnxHeader(bytes: Uint8Array, file: string): OnnxModelHeader {
  const header: OnnxModelHeader = {
    irVersion: 0,
    producerName: "",
    producerVersion: "",
    opsets: [],
    metadata: {},
    hasGraph: false,
  };
  try {
    for (const field of fields(bytes)) {
      if (field.number === IR_VERSION && field.varint !== undefined) header.irVersion = field.varint;
      else if (field.number === PRODUCER_NAME && field.bytes) header.producerName = utf8(field.bytes);
      else if (field.number === PRODUCER_VERSION && field.bytes) header.producerVersion = utf8(field.bytes);
      else if (field.number === GRAPH && field.bytes) header.hasGraph = true;
      else if (field.number === OPSET_IMPORT && field.bytes) {
        let domain = "";
        let version = 0;
        for (const f of fields(field.bytes)) {
          if (f.number === 1 && f.bytes) domain = utf8(f.bytes);
          if (f.number === 2 && f.varint !== undefined) version = f.varint;
        }
        header.opsets.push({ domain, version });
      } else if (field.number === METADATA_PROPS && field.bytes) {
        let key = "";
        let value = "";
        for (const f of fields(field.bytes)) {
          if (f.number === 1 && f.bytes) key = utf8(f.bytes);
          if (f.number === 2 && f.bytes) value = utf8(f.bytes);
        }
        header.metadata[key] = value;
      }
    }
  } catch (cause) {
    const why = cause instanceof Corrupt ? cause.message : String(cause);
    throw new InferenceError(Code.DATA_LOSS, `not a valid ONNX model file (${why})`, { file, cause });
  }
  if (!header.hasGraph || header.irVersion === 0) {
    throw new InferenceError(
      Code.DATA_LOSS,
      `not a valid ONNX model file (${header.hasGraph ? "no ir_version" : "no graph"})`,
      { file },
    );
  }
  return header;
}

interface Field {
  number: number;
  varint?: number;
  bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Corrupt(`truncated varint at byte ${pos}`);
      const b = buf[pos++];
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Corrupt(`varint longer than 10 bytes at byte ${pos}`);
  };
  while (pos < buf.length) {
    const start = pos;
    const tag = varint();
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    if (number === 0) throw new Corrupt(`field number 0 at byte ${start}`);
    if (wire === 0) yield { number, varint: varint() };
    else if (wire === 2) {
      const len = varint();
      if (pos + len > buf.length) throw new Corrupt(`field ${number} at byte ${start} runs past the end`);
      yield { number, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > buf.length) throw new Corrupt(`fixed field ${number} at byte ${start} runs past the end`);
    } else throw new Corrupt(`unsupported wire type ${wire} at byte ${start}`);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });
function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
