/**
 * Key-frame protocols of the real-data benchmark (docs/real-data.md): which frames of a video
 * with evaluation masks become its key frames, by position alone, so that every method is
 * scored from the same keys.
 *   first    - the video's first frame with a gtMask is its only key;
 *   every:N  - frames 0, N, 2N, ... that have a gtMask (none of them: the first masked frame).
 */
import { DatasetError } from "./errors.js";

export type KeyProtocol = { kind: "first" } | { kind: "every"; n: number };

/** The protocols as written on the command line. */
export const KEY_PROTOCOL_FORMS = ["first", "every:N"] as const;

/** "first" or "every:N" (N an integer >= 1); anything else names the allowed forms. */
export function parseKeyProtocol(text: string): KeyProtocol {
  if (text === "first") return { kind: "first" };
  const every = /^every:(\d+)$/.exec(text);
  if (every && Number(every[1]) >= 1) return { kind: "every", n: Number(every[1]) };
  throw new DatasetError(
    "unsupported_input",
    "--protocol",
    `unknown protocol "${text}"; allowed: ${KEY_PROTOCOL_FORMS.join(", ")} (N an integer >= 1)`,
  );
}

export function formatKeyProtocol(p: KeyProtocol): string {
  return p.kind === "first" ? "first" : `every:${p.n}`;
}

/**
 * The key frame indices `p` picks in a video whose frames have (true) or lack (false) an
 * evaluation mask; empty when no frame has one.
 */
export function protocolKeys(hasGt: readonly boolean[], p: KeyProtocol): number[] {
  const first = hasGt.indexOf(true);
  if (first < 0) return [];
  if (p.kind === "first") return [first];
  const keys = hasGt.flatMap((has, i) => (has && i % p.n === 0 ? [i] : []));
  return keys.length ? keys : [first];
}
