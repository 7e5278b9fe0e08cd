#!/usr/bin/env node
/**
 * `npm run bench:real`: the real-data benchmark (docs/real-data.md). Imports real clips with the
 * project's importer, gives them keys by protocol ("first": the first masked frame only;
 * "every:N": masked frames 0, N, 2N, ...), and scores mask propagation at each size in two modes:
 *   a - the recipe trained on the clips themselves, from their key masks only (the ML team's
 *       workflow: the evaluation masks of the other frames are never trained on);
 *   b - zero-shot: a checkpoint trained elsewhere.
 * Every step is a call of the BUILT CLI (node packages/orchestrator/dist/bin.js), the commands a
 * user would type; they are printed (--dry-run prints only them) and kept in the results.
 * Writes <out>/latest.json and <out>/latest.md (frame-weighted and per-clip Dice, IoU and
 * boundary F of the model beside copy-key and flow, and the margin over the better baseline).
 *
 * Usage: node tools/realdata/benchmark.mjs (--data <clips root> | --dataset <imported dataset>)
 *          [--sizes 128,256] [--protocols first,every:10] [--modes a,b] [--minutes 6]
 *          [--max-frames N] [--recipe FILE] [--checkpoint FILE] [--reference key|previous]
 *          [--adapt-steps N] [--downsample N]
 *          [--set key=value ...] [--out DIR] [--work DIR]
 *          [--quick] [--dry-run]
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(root, "packages/orchestrator/dist/bin.js");
export const MASK_METHODS = ["model", "copy_key", "flow"];
export const METRICS = ["dice", "iou", "boundary_f"];
const RECIPE = "configs/recipes/real-propagation.yaml";
/** Used while the real-data recipe does not exist yet (the lead is writing it). */
const FALLBACK_RECIPE = "configs/recipes/next-frame-warp-cycle-reseed.yaml";
const CHECKPOINT = "models/real-propagation.pt";
/** `stillmotion eval --reference`: each frame's mask carried from its chain's key frame, the
 * recommended setting on real video (docs/real-data.md); "previous" is Fig. 6's literal chain. */
const REFERENCES = ["key", "previous"];
/** `stillmotion eval --adapt-steps`: the correction fitted to each clip's key frames first. */
const ADAPT_STEPS = 300;

/** A usage or setup problem: printed as one line, exit 2. */
class BenchError extends Error {}

const say = (line) => process.stderr.write(`bench:real: ${line}\n`);

/** The options as given, with --quick's smaller defaults and the checks. */
export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string" },
      dataset: { type: "string" },
      sizes: { type: "string" },
      protocols: { type: "string" },
      modes: { type: "string" },
      minutes: { type: "string" },
      "max-frames": { type: "string" },
      recipe: { type: "string" },
      checkpoint: { type: "string" },
      reference: { type: "string", default: "key" },
      "adapt-steps": { type: "string" },
      downsample: { type: "string", default: "1" },
      set: { type: "string", multiple: true, default: [] },
      out: { type: "string", default: "bench/results/real-data" },
      work: { type: "string", default: "bench/results/tmp/real-data" },
      quick: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
    },
  });
  if (Boolean(values.data) === Boolean(values.dataset))
    throw new BenchError("give exactly one of --data <clips root> and --dataset <imported dataset>");
  const quick = values.quick;
  const sizes = list(values.sizes ?? (quick ? "64" : "128,256"), "--sizes").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 16) throw new BenchError(`--sizes: "${s}" is not an integer >= 16`);
    return n;
  });
  const protocols = list(values.protocols ?? (quick ? "every:10" : "first,every:10"), "--protocols");
  for (const p of protocols) {
    const every = /^every:(\d+)$/.exec(p);
    if (p !== "first" && !(every && Number(every[1]) >= 1))
      throw new BenchError(`--protocols: unknown protocol "${p}"; allowed: first, every:N (N >= 1)`);
  }
  const modes = list(values.modes ?? "a,b", "--modes");
  for (const m of modes)
    if (m !== "a" && m !== "b") throw new BenchError(`--modes: unknown mode "${m}"; allowed: a, b`);
  const minutes = Number(values.minutes ?? (quick ? "0.5" : "6"));
  if (!(minutes > 0)) throw new BenchError(`--minutes must be a number > 0, got "${values.minutes}"`);
  // 40 frames keep the CI smoke run under a minute on two busy cores (evaluation is the cost)
  const maxFrames = values["max-frames"] ?? (quick ? "40" : undefined);
  if (maxFrames !== undefined && !(Number.isInteger(Number(maxFrames)) && Number(maxFrames) >= 2))
    throw new BenchError(`--max-frames must be an integer >= 2, got "${maxFrames}"`);
  let recipe = values.recipe;
  let recipeNote;
  if (!recipe) {
    recipe = existsSync(join(root, RECIPE)) ? RECIPE : FALLBACK_RECIPE;
    if (recipe === FALLBACK_RECIPE)
      recipeNote = `${RECIPE} does not exist yet: mode a trains ${FALLBACK_RECIPE}`;
  }
  if (modes.includes("a") && !existsSync(resolve(root, recipe)))
    throw new BenchError(`--recipe ${recipe}: file not found`);
  if (!REFERENCES.includes(values.reference))
    throw new BenchError(
      `--reference: unknown value "${values.reference}"; allowed: ${REFERENCES.join(", ")}`,
    );
  // key-frame adaptation (docs/evaluation.md): the recommended 300 steps; a few in a smoke run
  const adaptSteps = Number(values["adapt-steps"] ?? (quick ? "5" : String(ADAPT_STEPS)));
  if (!(Number.isInteger(adaptSteps) && adaptSteps >= 0))
    throw new BenchError(`--adapt-steps must be an integer >= 0, got "${values["adapt-steps"]}"`);
  // the model at 1/N of each size per side, masks scored at the size (docs/evaluation.md, item 6)
  const downsample = Number(values.downsample);
  if (!(Number.isInteger(downsample) && downsample >= 1))
    throw new BenchError(`--downsample must be an integer >= 1, got "${values.downsample}"`);
  for (const s of values.set) {
    if (!/^[\w.]+=/.test(s)) throw new BenchError(`--set "${s}": expected key=value`);
  }
  return {
    data: values.data && resolve(values.data),
    dataset: values.dataset && resolve(values.dataset),
    sizes,
    protocols,
    modes,
    minutes,
    maxFrames: maxFrames === undefined ? undefined : Number(maxFrames),
    recipe: resolve(root, recipe),
    recipeNote,
    checkpoint: resolve(root, values.checkpoint ?? CHECKPOINT),
    reference: values.reference,
    adaptSteps,
    downsample,
    // the vendored clip is one video: 4 clips per epoch, fewer than the recipes' batch of 8
    set: [...(quick ? ["data.batch_size=2"] : []), ...values.set],
    out: resolve(root, values.out),
    work: resolve(root, values.work),
    quick,
    dryRun: values["dry-run"],
  };
}

function list(text, flag) {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new BenchError(`${flag}: empty list`);
  return items;
}

/** "every:10" -> "every-10": a folder name. */
const slug = (protocol) => protocol.replace(":", "-");

/** A path as shown to the user: relative to the repository when inside it. */
const shown = (p) => p.replaceAll(`${root}/`, "");

/** Words as a shell takes them, paths inside the repository made relative to it. */
export function shellWords(args) {
  return args
    .map((a) => {
      const rel = shown(a);
      return /^[\w./:=,@+-]+$/.test(rel) ? rel : `'${rel.replaceAll("'", "'\\''")}'`;
    })
    .join(" ");
}

/** A CLI call as a user would type it. */
export const shellLine = (args) => `stillmotion ${shellWords(args)}`;

/**
 * Run the built CLI; returns the JSON object of its last stdout line. On failure the child's
 * last stderr line (its `stillmotion: CODE: message`) is the error.
 */
function cli(args, commands, dryRun) {
  commands.push(shellLine(args));
  if (dryRun) return undefined;
  say(shellLine(args));
  const run = spawnSync(process.execPath, [CLI, ...args], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) {
    const lines = `${run.stdout}\n${run.stderr}`.split("\n").filter((l) => l.trim());
    const last = lines.findLast((l) => l.startsWith("stillmotion:")) ?? lines.at(-1) ?? "no output";
    throw new Error(`${args[0]} failed (exit ${run.status ?? run.signal}): ${last}`);
  }
  const line = run.stdout.trim().split("\n").pop();
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`${args[0]}: last output line is not JSON: ${line.slice(0, 200)}`);
  }
}

const round = (v) => (typeof v === "number" ? Math.round(v * 1e4) / 1e4 : null);

/** Model minus the better baseline, per metric (positive: the model wins). */
export function margins(block) {
  const out = {};
  for (const k of METRICS) {
    const model = block.model?.[k];
    const base = [block.copy_key?.[k], block.flow?.[k]].filter((v) => typeof v === "number");
    out[k] = typeof model === "number" && base.length ? round(model - Math.max(...base)) : null;
  }
  return out;
}

/** The scores this benchmark keeps from a stillmotion-eval report. */
export function summarise(report) {
  const pick = (masks) =>
    Object.fromEntries(
      MASK_METHODS.map((m) => [m, Object.fromEntries(METRICS.map((k) => [k, round(masks[m][k])]))]),
    );
  const frameWeighted = pick(report.overall.frame_weighted.masks);
  return {
    scored_frames: report.overall.scored_frames,
    frame_weighted: frameWeighted,
    mean_over_videos: pick(report.overall.mean_over_videos.masks),
    margin: margins(frameWeighted),
    per_clip: report.videos.map((v) => ({
      id: v.id,
      frames: v.frames,
      key_frames: v.key_frames,
      scored_frames: v.scored_frames,
      ...pick(v.masks),
    })),
    /** Videos the evaluation could not score (no non-key frame with a gtMask). */
    skipped_videos: report.skipped,
    warnings: report.warnings,
  };
}

/**
 * A smoke run's shortcut: each video keeps its first `n` frames (the manifest is rewritten; the
 * other files stay, unreferenced). The keyframes command that follows validates the result.
 */
function truncateClips(ds, n) {
  const file = join(ds, "manifest.json");
  const manifest = JSON.parse(readFileSync(file, "utf8"));
  for (const video of manifest.videos) video.frames = video.frames.slice(0, n);
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Import (or take) the dataset, then one key-assigned copy per protocol. */
function prepare(opts, commands) {
  let base = opts.dataset;
  if (opts.data) {
    base = join(opts.work, "imported");
    cli(
      ["dataset", "import", "clips", opts.data, "--out", base, "--overwrite", "--json"],
      commands,
      opts.dryRun,
    );
  }
  const byProtocol = {};
  for (const protocol of opts.protocols) {
    const ds = join(opts.work, slug(protocol), "dataset");
    // a copy: the keys of one protocol must not leak into the next, nor into the user's data
    commands.push(`rm -rf ${shellWords([ds])} && cp -r ${shellWords([base, ds])}`);
    if (opts.maxFrames)
      commands.push(`# keep the first ${opts.maxFrames} frames of each clip in ${shown(ds)}`);
    if (!opts.dryRun) {
      rmSync(ds, { recursive: true, force: true });
      mkdirSync(dirname(ds), { recursive: true });
      cpSync(base, ds, { recursive: true });
      if (opts.maxFrames) truncateClips(ds, opts.maxFrames);
    }
    cli(
      ["keyframes", ds, "--protocol", protocol, "--write", "--assign", "gt", "--json"],
      commands,
      opts.dryRun,
    );
    byProtocol[protocol] = ds;
  }
  return byProtocol;
}

/** Mode a: train the recipe on the protocol's dataset, evaluate the run. */
function modeA(opts, ds, size, dir, commands) {
  const run = join(dir, "run");
  if (!opts.dryRun) rmSync(run, { recursive: true, force: true });
  const sets = [
    `data.dataset=${ds}`,
    `data.size=${size}`,
    "data.val_fraction=0",
    `stop.time_budget_s=${Math.round(opts.minutes * 60 * 1000) / 1000}`,
    ...opts.set,
  ];
  const outcome = cli(
    ["train", "-c", opts.recipe, ...sets.flatMap((s) => ["--set", s]), "--run-dir", run, "--json"],
    commands,
    opts.dryRun,
  );
  const report = evaluate(opts, [run], ds, size, dir, commands);
  const train = outcome && { reason: outcome.reason, step: outcome.step, run_dir: outcome.runDir ?? run };
  return { train, report };
}

/** Mode b: evaluate a checkpoint trained elsewhere. */
function modeB(opts, ds, size, dir, commands) {
  return { report: evaluate(opts, ["--checkpoint", opts.checkpoint], ds, size, dir, commands) };
}

/** `stillmotion eval <what> --dataset ds --size S --reference R --adapt-steps N --json`, report kept in dir. */
function evaluate(opts, what, ds, size, dir, commands) {
  const args = ["eval", ...what, "--dataset", ds, "--size", String(size), "--reference", opts.reference];
  if (opts.adaptSteps) args.push("--adapt-steps", String(opts.adaptSteps));
  if (opts.downsample > 1) args.push("--downsample", String(opts.downsample));
  return cli([...args, "--json", "--out", join(dir, "eval.json")], commands, opts.dryRun);
}

const fmt = (v) => (typeof v === "number" ? v.toFixed(3) : "-");
const signed = (v) => (typeof v === "number" ? `${v >= 0 ? "+" : ""}${v.toFixed(3)}` : "-");
const MODE_NAMES = { a: "a (trained on the clips)", b: "b (zero-shot)" };

/** The readable report: one summary table, then per-clip Dice of every entry, then commands. */
export function markdown(doc) {
  const lines = [
    "# Real-data benchmark",
    "",
    `Data: ${doc.data}${doc.max_frames ? ` (first ${doc.max_frames} frames of each clip: a smoke run)` : ""}. Recipe (mode a): ${doc.recipe}, ${doc.minutes} min per run. Checkpoint (mode b): ${doc.checkpoint}. Masks carried from: ${doc.reference === "key" ? "the key frame" : "the previous frame"} (--reference ${doc.reference}). Correction fitted to each clip's key frames first: ${doc.adapt_steps ? `${doc.adapt_steps} steps` : "no"} (--adapt-steps ${doc.adapt_steps ?? 0}).${doc.downsample > 1 ? ` The model at 1/${doc.downsample} of each size per side (--downsample ${doc.downsample}).` : ""}`,
    `Machine: ${doc.machine.cpus} x ${doc.machine.cpuModel}, node ${doc.machine.node}. Commit ${doc.machine.gitCommit ?? "-"}, ${doc.machine.date}.`,
    "",
    "Frame-weighted over every scored frame (non-key frames with an evaluation mask); each cell is",
    "model / copy-key / flow; margin = model - the better baseline.",
    "",
    "| protocol | size | mode | frames | Dice | IoU | boundary F | margin Dice | margin IoU | margin BF |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of doc.results) {
    const head = `| ${r.protocol} | ${r.size} | ${MODE_NAMES[r.mode]} |`;
    if (r.skipped || r.error) {
      lines.push(`${head} ${r.skipped ? `skipped: ${r.skipped}` : `error: ${r.error}`} | | | | | | |`);
      continue;
    }
    const fw = r.frame_weighted;
    const cell = (k) => MASK_METHODS.map((m) => fmt(fw[m][k])).join(" / ");
    lines.push(
      `${head} ${r.scored_frames} | ${cell("dice")} | ${cell("iou")} | ${cell("boundary_f")} | ` +
        `${signed(r.margin.dice)} | ${signed(r.margin.iou)} | ${signed(r.margin.boundary_f)} |`,
    );
  }
  for (const r of doc.results.filter((x) => x.per_clip)) {
    lines.push(
      "",
      `## Per clip: ${r.protocol}, ${r.size} px, mode ${MODE_NAMES[r.mode]}`,
      "",
      "| clip | frames | keys | scored | Dice model | copy-key | flow | IoU model | BF model |",
      "|---|---|---|---|---|---|---|---|---|",
    );
    for (const c of r.per_clip) {
      lines.push(
        `| ${c.id} | ${c.frames} | ${c.key_frames.length} | ${c.scored_frames} | ${fmt(c.model.dice)} | ` +
          `${fmt(c.copy_key.dice)} | ${fmt(c.flow.dice)} | ${fmt(c.model.iou)} | ${fmt(c.model.boundary_f)} |`,
      );
    }
  }
  lines.push("", "## Commands", "", "```", ...doc.commands, "```", "");
  return lines.join("\n");
}

function machine() {
  const git = spawnSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" });
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
    gitCommit: git.status === 0 ? git.stdout.trim() : null,
    date: new Date().toISOString(),
  };
}

function write(dir, name, text) {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, name));
}

export async function main(argv) {
  const opts = parseOptions(argv);
  if (!opts.dryRun && !existsSync(CLI)) throw new BenchError(`${CLI} not built: run npm run build`);
  if (opts.recipeNote && opts.modes.includes("a")) say(opts.recipeNote);
  const commands = [];
  const datasets = prepare(opts, commands);
  const results = [];
  for (const protocol of opts.protocols) {
    for (const size of opts.sizes) {
      for (const mode of opts.modes) {
        const entry = { protocol, size, mode };
        results.push(entry);
        if (mode === "b" && !existsSync(opts.checkpoint)) {
          entry.skipped = `checkpoint ${shown(opts.checkpoint)} not found (pass --checkpoint FILE)`;
          say(`mode b skipped for ${protocol} at ${size} px: ${entry.skipped}`);
          continue;
        }
        const dir = join(opts.work, slug(protocol), String(size), mode);
        const started = Date.now();
        const entryCommands = [];
        try {
          const { train, report } = (mode === "a" ? modeA : modeB)(
            opts,
            datasets[protocol],
            size,
            dir,
            entryCommands,
          );
          if (train) entry.train = train;
          if (report) Object.assign(entry, summarise(report));
        } catch (err) {
          entry.error = err.message;
          say(`${protocol} ${size} px mode ${mode}: ${err.message}`);
        }
        entry.seconds = Math.round((Date.now() - started) / 100) / 10;
        entry.commands = entryCommands;
        commands.push(...entryCommands);
      }
    }
  }
  if (opts.dryRun) {
    process.stdout.write(`${commands.join("\n")}\n`);
    return 0;
  }
  const doc = {
    format: "stillmotion-real-benchmark",
    version: 1,
    data: opts.data ?? opts.dataset,
    protocols: opts.protocols,
    sizes: opts.sizes,
    modes: opts.modes,
    minutes: opts.minutes,
    max_frames: opts.maxFrames ?? null,
    recipe: shown(opts.recipe),
    checkpoint: shown(opts.checkpoint),
    reference: opts.reference,
    adapt_steps: opts.adaptSteps,
    downsample: opts.downsample,
    machine: machine(),
    results,
    commands,
  };
  write(opts.out, "latest.json", `${JSON.stringify(doc, null, 2)}\n`);
  const md = markdown(doc);
  write(opts.out, "latest.md", md);
  process.stdout.write(md);
  say(`wrote ${join(opts.out, "latest.json")} and latest.md`);
  return results.some((r) => r.error) ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      say(err instanceof BenchError ? err.message : (err.stack ?? String(err)));
      process.exit(err instanceof BenchError ? 2 : 1);
    },
  );
}
