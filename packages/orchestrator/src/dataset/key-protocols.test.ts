import { describe, expect, it } from "vitest";
import { DatasetError } from "./errors.js";
import { formatKeyProtocol, parseKeyProtocol, protocolKeys } from "./key-protocols.js";

const gt = (pattern: string) => [...pattern].map((c) => c === "x");

describe("key-frame protocols", () => {
  it("parses first and every:N, refusing anything else with the allowed forms", () => {
    expect(parseKeyProtocol("first")).toEqual({ kind: "first" });
    expect(parseKeyProtocol("every:10")).toEqual({ kind: "every", n: 10 });
    expect(formatKeyProtocol(parseKeyProtocol("every:3"))).toBe("every:3");
    for (const bad of ["every:0", "every:", "every:2.5", "last", "every"]) {
      expect(() => parseKeyProtocol(bad)).toThrow(DatasetError);
      expect(() => parseKeyProtocol(bad)).toThrow(/allowed: first, every:N/);
    }
  });

  it("first: the first frame with an evaluation mask", () => {
    expect(protocolKeys(gt("..xx.x"), { kind: "first" })).toEqual([2]);
    expect(protocolKeys(gt("......"), { kind: "first" })).toEqual([]);
  });

  it("every:N: masked frames at multiples of N, else the first masked frame", () => {
    expect(protocolKeys(gt("xxxxxxx"), { kind: "every", n: 3 })).toEqual([0, 3, 6]);
    expect(protocolKeys(gt(".xxx.xx"), { kind: "every", n: 3 })).toEqual([3, 6]); // frame 0 has no mask: skipped
    expect(protocolKeys(gt(".xx.xx."), { kind: "every", n: 3 })).toEqual([1]);
    expect(protocolKeys(gt("x"), { kind: "every", n: 10 })).toEqual([0]);
  });
});
