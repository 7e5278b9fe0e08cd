/**
 * Test helper: rewrite the metadata_props (field 14) of an ONNX ModelProto at the protobuf wire
 * level, leaving every other top-level field byte for byte. Written independently of
 * src/onnx-model-file.ts so the reader is tested against a separate encoder.
 */

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++];
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [result, pos];
    scale *= 128;
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint(field * 8 + 2), ...varint(payload.length), ...payload]);
}

function entry(key: string, value: string): Uint8Array {
  const enc = new TextEncoder();
  const k = lengthDelimited(1, enc.encode(key));
  const v = lengthDelimited(2, enc.encode(value));
  const both = new Uint8Array(k.length + v.length);
  both.set(k);
  both.set(v, k.length);
  return lengthDelimited(14, both);
}

/** Parse the top-level metadata, let `edit` change it, re-encode the file. */
export function editMetadata(
  bytes: Uint8Array,
  edit: (meta: Record<string, string>) => Record<string, string>,
): Uint8Array {
  const kept: Uint8Array[] = [];
  const meta: Record<string, string> = {};
  const dec = new TextDecoder();
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    let tag: number;
    [tag, pos] = readVarint(bytes, pos);
    const wire = tag % 8;
    if (wire === 0) [, pos] = readVarint(bytes, pos);
    else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(bytes, pos);
      if (Math.floor(tag / 8) === 14) {
        const inner = bytes.subarray(pos, pos + len);
        let p = 0;
        let key = "";
        let value = "";
        while (p < inner.length) {
          let t: number;
          let l: number;
          [t, p] = readVarint(inner, p);
          [l, p] = readVarint(inner, p);
          const s = dec.decode(inner.subarray(p, p + l));
          if (t >> 3 === 1) key = s;
          else value = s;
          p += l;
        }
        meta[key] = value;
        pos += len;
        continue;
      }
      pos += len;
    } else pos += wire === 1 ? 8 : 4;
    kept.push(bytes.subarray(start, pos));
  }
  const parts = [...kept, ...Object.entries(edit({ ...meta })).map(([k, v]) => entry(k, v))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
