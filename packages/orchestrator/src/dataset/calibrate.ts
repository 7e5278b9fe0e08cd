/**
 * `stillmotion calibrate`: suggest γ1 (the d threshold splitting alike from unlike frame pairs)
 * and γ2 (the mask-distance margin for unlike pairs) of θ (METHOD.md, steps 4-5) from a
 * dataset's d distribution, and say why.
 *
 * γ1: consecutive frames are alike by construction, frames of different videos unlike. γ1 is the
 *     threshold with the lowest balanced error between the two (ties: the middle of the best
 *     range). With no cross-video pairs, γ1 = the 5th percentile of consecutive d (95% of
 *     consecutive pairs count as alike); with no consecutive pairs (stills), just above the 95th
 *     percentile of cross-video d.
 * γ2: the median φ between the masks of pairs that γ1 calls unlike (within videos first, else
 *     across videos), clamped to [0.05, 1]: the margin real unlike pairs actually show. Without
 *     masks on such pairs, 0.5.
 */
import { type DatasetStats, datasetStats, type StatsOptions } from "./stats.js";

export const GAMMA2_DEFAULT = 0.5;
export const GAMMA2_MIN = 0.05;
const STEPS = 1000;

export interface Calibration {
  gamma1: number;
  gamma2: number;
  reasoning: string[];
  stats: DatasetStats;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const f3 = (v: number) => v.toFixed(3);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
}

/** Threshold in [0, 1] minimising 0.5 * P(alike < t) + 0.5 * P(unlike >= t); middle of ties. */
export function balancedThreshold(alike: number[], unlike: number[]): { threshold: number; error: number } {
  let best = Number.POSITIVE_INFINITY;
  let first = 0;
  let last = 0;
  for (let i = 0; i <= STEPS; i++) {
    const t = i / STEPS;
    const miss = alike.filter((v) => v < t).length / alike.length;
    const false_ = unlike.filter((v) => v >= t).length / unlike.length;
    const err = 0.5 * miss + 0.5 * false_;
    if (err < best - 1e-12) {
      best = err;
      first = t;
      last = t;
    } else if (Math.abs(err - best) <= 1e-12 && last === (i - 1) / STEPS) last = t;
  }
  return { threshold: (first + last) / 2, error: best };
}

export async function calibrate(options: StatsOptions): Promise<Calibration> {
  const stats = await datasetStats(options);
  const reasoning: string[] = [];
  const values = (kind: string) => stats.pairs.filter((p) => p.kind === kind).map((p) => p.d);
  const consecutive = values("consecutive");
  const cross = values("crossVideo");
  const toKey = values("toKey");
  reasoning.push(
    `d = ${stats.d}: ${consecutive.length} consecutive pairs, ${toKey.length} key-to-frame pairs, ${cross.length} cross-video pairs.`,
  );
  let gamma1: number;
  if (consecutive.length && cross.length) {
    const { threshold, error } = balancedThreshold(consecutive, cross);
    gamma1 = threshold;
    reasoning.push(
      `Consecutive frames (alike by construction) have median d ${f3(median(consecutive))} (5th pct ${f3(stats.consecutive?.p05 ?? 0)}); ` +
        `frames of different videos (unlike) have median d ${f3(median(cross))} (95th pct ${f3(stats.crossVideo?.p95 ?? 0)}).`,
      `γ1 = ${f3(gamma1)} separates them with balanced error ${pct(error)}: ` +
        `${pct(consecutive.filter((v) => v >= gamma1).length / consecutive.length)} of consecutive pairs count as alike, ` +
        `${pct(cross.filter((v) => v < gamma1).length / cross.length)} of cross-video pairs as unlike.`,
    );
  } else if (consecutive.length) {
    gamma1 = stats.consecutive?.p05 ?? 0;
    reasoning.push(
      "No cross-video pairs of equal size to compare with, so γ1 is the 5th percentile of consecutive d: " +
        `γ1 = ${f3(gamma1)} makes 95% of consecutive pairs count as alike.`,
    );
  } else if (cross.length) {
    gamma1 = Math.min(1, (stats.crossVideo?.p95 ?? 0) + 0.01);
    reasoning.push(
      "No consecutive frames (still images only): γ1 is set just above the 95th percentile of d between different stills, " +
        `γ1 = ${f3(gamma1)}, so different stills count as unlike.`,
    );
  } else {
    gamma1 = 0.5;
    reasoning.push("No frame pairs at all (a single still): γ1 = 0.5 by default.");
  }
  if (toKey.length) {
    reasoning.push(
      `With this γ1, ${pct(toKey.filter((v) => v < gamma1).length / toKey.length)} of key-to-frame pairs become ` +
        "negative pairs in L_M2 (their masks are pushed apart by at least γ2).",
    );
  }
  const unlikeWithin = stats.pairs.filter(
    (p) => p.kind !== "crossVideo" && p.d < gamma1 && p.phi !== undefined,
  );
  const unlikeCross = stats.pairs.filter(
    (p) => p.kind === "crossVideo" && p.d < gamma1 && p.phi !== undefined,
  );
  const source = unlikeWithin.length ? unlikeWithin : unlikeCross;
  let gamma2 = GAMMA2_DEFAULT;
  if (source.length) {
    const m = median(source.map((p) => p.phi as number));
    gamma2 = Math.min(1, Math.max(GAMMA2_MIN, m));
    reasoning.push(
      `Among ${source.length} ${unlikeWithin.length ? "within-video" : "cross-video"} pairs with d < γ1 that have masks, ` +
        `the median φ_${stats.phi} is ${f3(m)}; γ2 = ${f3(gamma2)} asks unlike frames' masks to differ at least that much` +
        (m < GAMMA2_MIN ? ` (raised to the floor ${GAMMA2_MIN})` : "") +
        ".",
    );
  } else {
    reasoning.push(`No masked pairs with d < γ1, so γ2 keeps its default ${GAMMA2_DEFAULT}.`);
  }
  return { gamma1: round(gamma1), gamma2: round(gamma2), reasoning, stats };
}

const round = (v: number) => Math.round(v * 1000) / 1000;
