import { appendFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { telemetry } from "@stillmotion/proto";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/helpers.js";
import { listPreviewFiles, savePreview, toStoredPreview } from "./preview-store.js";
import { LiveRunSource, type RunUpdate, TailRunSource } from "./run-source.js";

const line = (step: number, kind = "train") => `${JSON.stringify({ step, kind, total: 1 / step })}\n`;

function runDir(name: string): string {
  const dir = join(tempDir("source"), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ stop: { max_steps: 50 } }));
  return dir;
}

function preview(step: number) {
  return toStoredPreview({
    step,
    imageShape: [1, 1, 2, 2],
    maskShape: [1, 1, 2, 2],
    images: new Uint8Array(4),
    masks: new Uint8Array(4),
  });
}

describe("TailRunSource", () => {
  it("picks up appended rows (even a line written in two halves), new previews and the end of the run", () => {
    const dir = runDir("tail");
    writeFileSync(join(dir, "metrics.jsonl"), line(1) + line(2));
    const source = new TailRunSource(dir, { intervalMs: 60_000 });
    const updates: RunUpdate[] = [];
    source.subscribe((u) => updates.push(u));
    expect(source.view().metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(source.view().status).toMatchObject({ state: "unknown", step: 2, maxSteps: 50 });

    const third = line(3);
    appendFileSync(join(dir, "metrics.jsonl"), third.slice(0, 10));
    source.poll();
    expect(updates.filter((u) => u.type === "metric")).toHaveLength(0);
    appendFileSync(join(dir, "metrics.jsonl"), third.slice(10) + line(3, "val"));
    savePreview(dir, preview(3));
    source.poll();
    expect(updates.flatMap((u) => (u.type === "metric" ? [`${u.record.kind}${u.record.step}`] : []))).toEqual(
      ["train3", "val3"],
    );
    expect(updates.find((u) => u.type === "preview")).toMatchObject({ preview: { step: 3 } });

    writeFileSync(join(dir, "summary.json"), JSON.stringify({ reason: "max_steps", step: 3 }));
    source.poll();
    expect(updates.at(-1)).toEqual({
      type: "status",
      status: { state: "finished", step: 3, maxSteps: 50, reason: "max_steps" },
    });
    source.close();
  });

  it("starts over when the trainer rewrites metrics.jsonl on resume", () => {
    const dir = runDir("rewrite");
    writeFileSync(join(dir, "metrics.jsonl"), line(1) + line(2) + line(3));
    const source = new TailRunSource(dir, { intervalMs: 60_000 });
    const updates: RunUpdate[] = [];
    source.subscribe((u) => updates.push(u));
    writeFileSync(join(dir, "metrics.tmp"), line(1) + line(2) + line(3) + line(4));
    renameSync(join(dir, "metrics.tmp"), join(dir, "metrics.jsonl"));
    source.poll();
    expect(updates).toEqual([{ type: "reset" }]);
    expect(source.view().metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    source.close();
  });

  it("reports an unreadable preview once and keeps following", () => {
    const dir = runDir("bad");
    const source = new TailRunSource(dir, { intervalMs: 60_000, onError: (e) => errors.push(e.message) });
    const errors: string[] = [];
    savePreview(dir, preview(5));
    writeFileSync(listPreviewFiles(dir)[0], "{broken");
    source.poll();
    source.poll();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/step-00000005\.json: not a readable preview JSON file/);
    appendFileSync(join(dir, "metrics.jsonl"), line(1));
    source.poll();
    expect(source.view().metrics).toHaveLength(1);
    source.close();
  });
});

describe("LiveRunSource", () => {
  it("follows telemetry: run start, steps, validation, previews, end", () => {
    const source = new LiveRunSource(runDir("live"));
    const updates: RunUpdate[] = [];
    source.subscribe((u) => updates.push(u));
    const ev = (e: telemetry.DeepPartial<telemetry.TelemetryEvent>) =>
      source.onEvent(telemetry.TelemetryEvent.fromPartial(e));
    ev({ runStarted: { runDir: "x", startStep: 0, configJson: JSON.stringify({ stop: { max_steps: 9 } }) } });
    ev({ step: { step: 1, scalars: { total: 2 } } });
    ev({ validation: { step: 1, scalars: { total: 3 } } });
    const stored = ev({
      preview: {
        step: 1,
        imageShape: [1, 3, 1, 1],
        maskShape: [1, 1, 1, 1],
        images: Buffer.from([1, 2, 3]),
        masks: Buffer.from([4]),
      },
    });
    expect(stored).toMatchObject({ step: 1, images: Buffer.from([1, 2, 3]).toString("base64") });
    ev({ runEnded: { step: 1, reason: "max_steps" } });
    expect(updates.map((u) => u.type)).toEqual(["status", "metric", "metric", "preview", "status"]);
    expect(source.view().status).toEqual({ state: "finished", step: 1, maxSteps: 9, reason: "max_steps" });
  });
});
