#!/usr/bin/env node
/**
 * Benchmark `generate_incompressible_cost_128`: what the scene's divergence-free projection
 * (scene-incompressible.ts, the default under a camera) costs in `stillmotion generate`. Times
 * generateFromStill with the shipped models/real-still-to-video.onnx seen through
 * models/camera-laryngoscopy.json, 16 steps, sceneMotion "nonrigid" against "incompressible"
 * side by side (rounds interleaved), at 128 px (the recommended command's size, the metric) and
 * 256 px (and 512 without --quick, in the details). The projection is two 2-D DCTs per step,
 * O(H W log(H W)) (fast-dct.ts; docs/generation.md, "The scene without its divergence").
 *
 * Last stdout line: {"metric":"generate_incompressible_cost_128","value":<ratio>,"goal":"<= 1.5",...}
 * Options: --rounds R (default 3), --quick (1 round, 128 and 256 px).
 */
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { benchOptions, importInference, median, ROOT } from "./lib/setup.mjs";

const opts = benchOptions({ rounds: "3" });
const ROUNDS = opts.quick ? 1 : Number(opts.rounds);
const SIZES = opts.quick ? [128, 256] : [128, 256, 512];
const STEPS = 16;

const { loadGenerator, generateFromStill, readCameraProfile } = await importInference();
const generator = await loadGenerator(join(ROOT, "models/real-still-to-video.onnx"));
const camera = await readCameraProfile(join(ROOT, "models/camera-laryngoscopy.json"));

/** A still with shading, texture and a bright lesion, and the lesion's mask. */
function syntheticStill(size) {
  const n = size * size;
  const data = new Float32Array(3 * n);
  const mask = new Float32Array(n);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const r = Math.hypot(x - size * 0.45, y - size * 0.55) / size;
      const tex = 0.05 * Math.sin(x * 0.7) * Math.cos(y * 0.5);
      mask[i] = r < 0.12 ? 1 : 0;
      for (let c = 0; c < 3; c++)
        data[c * n + i] = 0.3 + 0.2 * (c === 0) + 0.3 * (r < 0.12) + tex + 0.2 * (y / size);
    }
  }
  return {
    image: { data, height: size, width: size, channels: 3 },
    mask: { data: mask, height: size, width: size },
  };
}

const bySize = {};
try {
  for (const size of SIZES) {
    const { image, mask } = syntheticStill(size);
    const ms = { nonrigid: [], incompressible: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const scene of ["nonrigid", "incompressible"]) {
        const started = performance.now();
        await generateFromStill(generator, image, mask, {
          steps: STEPS,
          residualScale: 0,
          camera,
          sceneMotion: scene,
        });
        ms[scene].push((performance.now() - started) / STEPS);
      }
    }
    bySize[size] = {
      nonrigid_ms_per_frame: Number(median(ms.nonrigid).toFixed(1)),
      incompressible_ms_per_frame: Number(median(ms.incompressible).toFixed(1)),
      ratio: Number((median(ms.incompressible) / median(ms.nonrigid)).toFixed(3)),
    };
    process.stderr.write(`generate-scene-motion: ${size} px ${JSON.stringify(bySize[size])}\n`);
  }
  console.log(
    JSON.stringify({
      metric: "generate_incompressible_cost_128",
      value: bySize[128].ratio,
      goal: "<= 1.5",
      unit: "x (ms per frame, incompressible / nonrigid)",
      details: {
        direction: "lower is better",
        by_size: bySize,
        steps: STEPS,
        rounds: ROUNDS,
        model: "models/real-still-to-video.onnx",
        camera: "models/camera-laryngoscopy.json",
        intra_op_threads: generator.sessionOptions.intraOpNumThreads,
        cores: availableParallelism(),
        cpu: cpus()[0]?.model,
        timed: "generateFromStill, 16 steps, residual 0, the camera's views included",
      },
    }),
  );
} finally {
  await generator.dispose();
}
