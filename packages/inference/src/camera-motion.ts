/**
 * Camera motion for still -> video: the generated scene seen through a hand-held scope whose
 * per-frame motion has the statistics of real clips (a camera profile, measured by
 * `python -m stillmotion_trainer camera-profile`; docs/generation.md). Mirrors Python
 * python-trainer/stillmotion_trainer/models/camera_motion.py (same formulas; the random stream
 * is this package's seeded mulberry32, not NumPy's, so the same seed draws other poses):
 *
 *     pose_t = (dx, dy, s, a)    shift in pixels, log zoom, rotation (radians); pose_0 = 0
 *     pose_{t+1} = rest + rho (pose_t - rest) + sigma * eps_t,   eps_t ~ N(0, I)
 *     rest = (0, 0, log restZoom, 0),  sigma = k * stepStd * sqrt((1 + rho) / 2)
 *     q(p) = c + d + exp(-s) R(a) (p - c),   field(p) = mirror(q(p)) - p
 *
 * stepStd is the real clips' per-frame standard deviation (shift as a fraction of the shorter
 * side), which the walk keeps in its stationary state; rho < 1 brings the view back towards the
 * still's framing. With the profile's `max_zoom` Z the log zoom is capped after each step,
 * s_{t+1} <- min(s_{t+1}, log Z): a magnified still is blurred and its lesion enlarged; zooming
 * out is not limited. Frame t is the composed state viewed through field_t (`compose` with a zero
 * residual): the still sampled once, the mask moved by the same map. `mirror` folds a coordinate
 * into [0, n - 1] about the edge pixels (BORDER_REFLECT_101): where the view leaves the still,
 * the still (and its mask) is mirrored instead of its edge pixels repeated into streaks.
 *
 * With the profile's `auto_exposure` (a video endoscope's automatic light control), frame t's view
 * is scaled by one gain so that its mean brightness over the channels is the still's:
 *
 *     g_t = sum_{p in view, c} I_0(p, c) / sum_{p in view, c} I_t(p, c)   (1 where the sum is 0)
 *     I_t(p) <- clamp(g_t I_t(p), 0, 1)                                   (`autoExposure`)
 *
 * With the profile's `keep_lesion` f (a clinician keeps the lesion in view), each proposed pose
 * is pulled halfway back to rest until the lesion's visible area through it lies within a factor
 * f of the rest pose's, and the walk goes on from the accepted pose (`CameraWalk`,
 * `keepLesionInView`):
 *
 *     A(pose) = |{p in view : M_pose(p) >= 0.5}|       the scene's mask seen through pose
 *     accept when f <= A(pose) / A(rest) <= 1 / f      (always when A(rest) = 0)
 *     else pose <- rest + (pose - rest) / 2, at most KEEP_TRIES times, then rest itself
 */
import { readFile } from "node:fs/promises";
import { Code, InferenceError, invalidArgument } from "./errors.js";
import type { FloatImage } from "./image-types.js";
import { gaussian, mulberry32 } from "./random-mask.js";
import type { Field } from "./still-to-video-compose.js";

/** A camera profile (the JSON `camera-profile` writes, snake_case as there). */
export interface CameraProfile {
  /** Per-frame shift std, each of x and y, as a fraction of the frame's shorter side. */
  shift_std: number;
  /** Per-frame std of the change of log zoom. */
  log_zoom_std: number;
  /** Per-frame std of the change of the angle, radians. */
  rotation_std: number;
  /** rho in [0, 1): how strongly the view returns to rest. */
  revert: number;
  /** The zoom the view returns to, in [1, 2]. */
  rest_zoom: number;
  /** The view's mean brightness held at the still's (a scope's automatic light control; default false). */
  auto_exposure?: boolean;
  /** The most the view magnifies the still, in [rest_zoom, 4]; null or absent = no cap. */
  max_zoom?: number | null;
  /** f in (0, 1]: the lesion's visible area kept within a factor f of the rest pose's; null or absent = off. */
  keep_lesion?: number | null;
  /** Where the numbers were measured (free-form). */
  source?: Record<string, unknown>;
}

const BOUNDS: Record<
  keyof Omit<CameraProfile, "source" | "auto_exposure" | "max_zoom" | "keep_lesion">,
  [number, number, boolean]
> = {
  // [low, high, high included]
  shift_std: [0, 1, false],
  log_zoom_std: [0, 1, false],
  rotation_std: [0, 1, false],
  revert: [0, 1, false],
  rest_zoom: [1, 2, true],
};
const DEFAULTS = { revert: 0.8, rest_zoom: 1.0, auto_exposure: false, max_zoom: null, keep_lesion: null };
const MAX_ZOOM_LIMIT = 4;
/** Halvings towards rest before `keep_lesion` falls back to the rest pose. */
export const KEEP_TRIES = 4;

/** Validate a parsed profile (defaults as in Python); INVALID_ARGUMENT naming `where` and the field. */
export function checkCameraProfile(raw: unknown, where = "camera profile"): CameraProfile {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalidArgument(where, raw, "a JSON object");
  }
  const known = new Set([...Object.keys(BOUNDS), "auto_exposure", "max_zoom", "keep_lesion", "source"]);
  const unknown = Object.keys(raw).filter((k) => !known.has(k));
  const missing = ["shift_std", "log_zoom_std", "rotation_std"].filter((k) => !(k in raw));
  if (unknown.length > 0 || missing.length > 0) {
    throw invalidArgument(
      where,
      `unknown fields [${unknown}], missing fields [${missing}]`,
      "a camera profile",
    );
  }
  const profile = { ...DEFAULTS, ...(raw as Partial<CameraProfile>) } as CameraProfile;
  for (const [name, [low, high, closed]] of Object.entries(BOUNDS)) {
    const v = profile[name as keyof typeof BOUNDS];
    if (typeof v !== "number" || !(v >= low && (closed ? v <= high : v < high))) {
      throw invalidArgument(`${where}: ${name}`, v, `a number in [${low}, ${high}${closed ? "]" : ")"}`);
    }
  }
  if (typeof profile.auto_exposure !== "boolean") {
    throw invalidArgument(`${where}: auto_exposure`, profile.auto_exposure, "true or false");
  }
  const z = profile.max_zoom;
  if (z != null && !(typeof z === "number" && z >= profile.rest_zoom && z <= MAX_ZOOM_LIMIT)) {
    throw invalidArgument(
      `${where}: max_zoom`,
      z,
      `null or a number in [rest_zoom ${profile.rest_zoom}, ${MAX_ZOOM_LIMIT}]`,
    );
  }
  const f = profile.keep_lesion;
  if (f != null && !(typeof f === "number" && f > 0 && f <= 1)) {
    throw invalidArgument(`${where}: keep_lesion`, f, "null or a number in (0, 1]");
  }
  return profile;
}

/** Read and validate a profile file; INVALID_ARGUMENT / NOT_FOUND naming the file. */
export async function readCameraProfile(path: string): Promise<CameraProfile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new InferenceError(Code.NOT_FOUND, "cannot read a camera profile", {
      file: path,
      cause,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new InferenceError(Code.INVALID_ARGUMENT, `not JSON: ${(cause as Error).message}`, {
      file: path,
      cause,
    });
  }
  return checkCameraProfile(raw, path);
}

/** A camera pose: [dx, dy, s, a] (pixels, pixels, log zoom, radians). */
export type Pose = [number, number, number, number];

/**
 * The walk (formulas above) one step at a time, so that a roll-out can steer it
 * (`keepLesionInView`): `propose()` draws the next pose from the current one (its log zoom capped
 * at log max_zoom), `accept(pose)` makes a pose the current one. Poses for a frame whose shorter
 * side is `side` pixels, drawn from `seed`; `strength` (k >= 0) scales the per-frame motion.
 */
export class CameraWalk {
  readonly rest: Pose;
  private readonly rho: number;
  private readonly sigma: number[];
  private readonly cap: number;
  private readonly next: () => number;
  private pose: Pose = [0, 0, 0, 0];

  constructor(profile: CameraProfile, side: number, seed = 0, strength = 1) {
    if (!(Number.isFinite(strength) && strength >= 0))
      throw invalidArgument("camera strength", strength, "a number >= 0");
    this.rho = profile.revert;
    const scale = strength * Math.sqrt((1 + this.rho) / 2);
    this.sigma = [
      profile.shift_std * side,
      profile.shift_std * side,
      profile.log_zoom_std,
      profile.rotation_std,
    ].map((v) => v * scale);
    this.rest = [0, 0, Math.log(profile.rest_zoom), 0];
    this.cap = profile.max_zoom == null ? Number.POSITIVE_INFINITY : Math.log(profile.max_zoom);
    this.next = mulberry32(seed);
  }

  propose(): Pose {
    const pose = this.pose.map(
      (v, j) => this.rest[j] + this.rho * (v - this.rest[j]) + this.sigma[j] * gaussian(this.next),
    ) as Pose;
    pose[2] = Math.min(pose[2], this.cap);
    return pose;
  }

  accept(pose: Pose): Pose {
    this.pose = pose;
    return pose;
  }
}

/** `frames` poses of the walk (`CameraWalk`) from pose_0 = 0, without looking at the lesion. */
export function samplePoses(
  profile: CameraProfile,
  frames: number,
  side: number,
  seed = 0,
  strength = 1,
): Pose[] {
  const walk = new CameraWalk(profile, side, seed, strength);
  const poses: Pose[] = [[0, 0, 0, 0]];
  for (let t = 1; t < frames; t++) poses.push(walk.accept(walk.propose()));
  return poses;
}

/**
 * The pose the walk takes when the lesion's visible area must stay within a factor `keep` of the
 * rest pose's (formulas above): `pose` when keep <= A(pose) / A(rest) <= 1 / keep or A(rest) = 0,
 * else the first of pose pulled halfway to rest 1..KEEP_TRIES times that is, else rest.
 * `visible(pose)` = A(pose), the lesion's area seen through a pose.
 */
export function keepLesionInView(
  pose: Pose,
  rest: Pose,
  visible: (pose: Pose) => number,
  keep: number,
): Pose {
  const atRest = visible(rest);
  if (atRest <= 0) return pose;
  let p = pose;
  for (let i = 0; i <= KEEP_TRIES; i++) {
    const r = visible(p) / atRest;
    if (keep <= r && r <= 1 / keep) return p;
    p = p.map((v, j) => rest[j] + (v - rest[j]) / 2) as Pose;
  }
  return [...rest];
}

/** x folded into [0, n - 1]: m = |x| mod 2 (n - 1), then m or 2 (n - 1) - m (Python camera_motion.mirror). */
export function mirror(x: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = Math.abs(x) % period;
  return m <= n - 1 ? m : period - m;
}

/** The view's field, (2, H, W) pixels: mirror(q(p)) - p with q of the formulas above. */
export function cameraField(pose: Pose, height: number, width: number): Field {
  const [dx, dy, s, a] = pose;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const k = Math.exp(-s);
  const cos = k * Math.cos(a);
  const sin = k * Math.sin(a);
  const n = height * width;
  const data = new Float32Array(2 * n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const qx = cx + dx + cos * (x - cx) - sin * (y - cy);
      const qy = cy + dy + sin * (x - cx) + cos * (y - cy);
      data[y * width + x] = mirror(qx, width) - x;
      data[n + y * width + x] = mirror(qy, height) - y;
    }
  }
  return { data, height, width };
}

/**
 * The frame with its view's mean brightness set to the still's (formula above): clamp(g x, 0, 1),
 * g over the view's pixels and all channels. image and still (C, H, W); view: 1 = outside the
 * view (a fixed border, fixed-border.ts), undefined = the whole frame is the view. Pixels outside
 * the view are scaled too (the fixed surround is pasted over them after).
 */
export function autoExposure(image: FloatImage, still: FloatImage, border?: Uint8Array): FloatImage {
  const n = image.height * image.width;
  let lit = 0;
  let target = 0;
  for (let i = 0; i < image.data.length; i++) {
    if (border?.[i % n]) continue;
    lit += image.data[i];
    target += still.data[i];
  }
  const gain = lit > 0 ? target / lit : 1;
  return { ...image, data: image.data.map((v) => Math.min(Math.max(v * gain, 0), 1)) };
}
