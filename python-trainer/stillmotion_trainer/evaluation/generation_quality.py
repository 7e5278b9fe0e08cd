"""Still -> video quality (issue 17, item 1): does a generated clip keep the still's identity?

A clip is rolled out from a real still and its lesion mask by `generation_step` (Fig. 5) and
scored at its last frame T against the still (frame 0):

- colour drift, per channel c: |mean_c(I_T) - mean_c(I_0)| and |std_c(I_T) - std_c(I_0)| (0-1
  scale; the clip's drift is the largest over channels; target <= 0.03);
- sharpness ratio: var(lap(g(I_T))) / var(lap(g(I_0))), g the channel mean and lap the
  4-neighbour Laplacian over interior pixels (target >= 0.7: not blurred);
- motion: SSIM of every consecutive pair (I_t, I_{t+1}), t = 0..T-1 (metrics/ssim.py); a copy
  gives 1.0 everywhere. The same distribution over the consecutive pairs of real clips of the
  domain (`real_clip_ssim`, `real_ssim_by_gap`) says what "plausible" is. SSIM depends on
  texture as much as on motion (a 1 px shift leaves SSIM 0.58 on vocalfolds frames at 128 px and
  0.91 on the stills; docs/generation.md), so the motion is also measured in pixels:
  `motion_px` of a pair = the median over pixels of |f|, f the Farneback flow between them
  (evaluation/baselines.backward_flow), comparable across domains;
- mask area ratio: |M_T >= 0.5| / |M_0 >= 0.5| (target in [0.7, 1.3]);
- mask follows the image, two ways:
  * `dice_flow`: Dice(M_T, W_T), W_T the still's mask carried along Farneback optical flow chained
    over the generated frames (evaluation/baselines.flow_masks): the motion an independent
    estimator sees in the images, for any model;
  * `dice_model_motion`: where the model exposes the field that moves its image
    (`image_head: warp`, models/image_warp.py), Dice(M_T, V_T) with V_{t+1} = warp(V_t, u_t),
    V_0 = M_0 and u_t the model's field at step t.

`generation_quality` runs this on every still of a folder (images/<id>.*, masks/<id>.png) and
summarises per source dataset; `real_clip_ssim` reads a stillmotion dataset (e.g. the imported
vocalfolds clips).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
import torch
from torch import nn

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.evaluation.baselines import flow_masks
from stillmotion_trainer.metrics.dice import dice
from stillmotion_trainer.metrics.ssim import ssim
from stillmotion_trainer.models.detail_sampling import DEFAULT_DETAIL
from stillmotion_trainer.models.fixed_border import DEFAULT_THRESHOLD as DEFAULT_BORDER

if TYPE_CHECKING:
    from stillmotion_trainer.models.still_to_video import ComposedRollout, ComposedState

COLOUR_DRIFT_MAX = 0.03  # issue 17's targets, 0-1 scale
SHARPNESS_RATIO_MIN = 0.7
AREA_RATIO_RANGE = (0.7, 1.3)
TARGETS: dict[str, Any] = {
    "colour_drift_max": COLOUR_DRIFT_MAX,
    "sharpness_ratio_min": SHARPNESS_RATIO_MIN,
    "area_ratio_range": AREA_RATIO_RANGE,
}


class GenerationQualityError(StillMotionError, ValueError):
    """Bad input to the generation-quality measurement (INVALID_ARGUMENT); names the file."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="INVALID_ARGUMENT")


def colour_drift(still: np.ndarray, frame: np.ndarray) -> dict[str, list[float]]:
    """Per channel c of (C, H, W) images in [0, 1]: |mean_c(frame) - mean_c(still)| ("mean")
    and |std_c(frame) - std_c(still)| ("std", population std over H, W)."""
    a = still.reshape(still.shape[0], -1).astype(np.float64)
    b = frame.reshape(frame.shape[0], -1).astype(np.float64)
    return {
        "mean": np.abs(b.mean(1) - a.mean(1)).tolist(),
        "std": np.abs(b.std(1) - a.std(1)).tolist(),
    }


def laplacian_variance(image: np.ndarray) -> float:
    """var(lap(g)) with g the channel mean of (C, H, W) and lap(g)(y, x) = g(y-1, x) + g(y+1, x)
    + g(y, x-1) + g(y, x+1) - 4 g(y, x) over interior pixels (no border padding): the usual
    focus measure (Pech-Pacheco et al. 2000). Population variance."""
    g = image.astype(np.float64).mean(axis=0)  # (H, W)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def sharpness_ratio(still: np.ndarray, frame: np.ndarray) -> float:
    """laplacian_variance(frame) / laplacian_variance(still); NaN for a flat still."""
    base = laplacian_variance(still)
    return laplacian_variance(frame) / base if base > 0 else float("nan")


def consecutive_ssim(frames: np.ndarray) -> list[float]:
    """SSIM(I_t, I_{t+1}) for t = 0..T-2 of frames (T, C, H, W) in [0, 1] (metrics/ssim.py)."""
    return [ssim(frames[t], frames[t + 1]) for t in range(len(frames) - 1)]


def motion_px(a: np.ndarray, b: np.ndarray) -> float:
    """Median over pixels of |f(p)|, f the Farneback flow from frame b back to frame a (C, H, W)
    in [0, 1] (evaluation/baselines.backward_flow, OpenCV's example settings), pixels."""
    from stillmotion_trainer.evaluation.baselines import FarnebackParams, backward_flow, to_gray_u8

    flow = backward_flow(to_gray_u8(b), to_gray_u8(a), FarnebackParams())  # (H, W, 2)
    return float(np.median(np.hypot(flow[..., 0], flow[..., 1])))


def area_ratio(still_mask: np.ndarray, mask: np.ndarray) -> float:
    """|mask >= 0.5| / |still_mask >= 0.5| (pixel counts); NaN when the still's mask is empty."""
    base = int((still_mask >= 0.5).sum())
    return int((mask >= 0.5).sum()) / base if base else float("nan")


def distribution(values: Sequence[float]) -> dict[str, float]:
    """min, 10th percentile, median, 90th percentile, max and mean of `values` (NaNs dropped)."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {k: float("nan") for k in ("min", "p10", "median", "p90", "max", "mean")}
    p10, med, p90 = np.percentile(v, [10, 50, 90])
    return {
        "min": float(v.min()), "p10": float(p10), "median": float(med),
        "p90": float(p90), "max": float(v.max()), "mean": float(v.mean()),
    }  # fmt: skip


@dataclass
class Rollout:
    """A generated clip: frames (T+1, C, H, W) and masks (T+1, 1, H, W), index 0 the still;
    fields (T, 2, H, W) in pixels where the model moves its image by a field, else None."""

    frames: np.ndarray
    masks: np.ndarray
    fields: Optional[np.ndarray]


@torch.no_grad()
def roll_out(model: nn.Module, image: np.ndarray, mask: np.ndarray, steps: int) -> Rollout:
    """`steps` Fig. 5 steps (models/next_frame.generation_step) from image (C, H, W) and mask
    (1, H, W) in [0, 1]; the model's image field is read where it has one."""
    from stillmotion_trainer.models.next_frame import generation_step, image_field

    cur_i = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    cur_m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]
    frames, masks, fields = [cur_i[0].numpy()], [cur_m[0].numpy()], []
    for _ in range(steps):
        field = image_field(model, cur_i, cur_m)  # (1, 2, H, W) or None
        if field is not None:
            fields.append(field[0].numpy())
        cur_i, cur_m = generation_step(model, cur_i, cur_m)
        frames.append(cur_i[0].numpy())
        masks.append(cur_m[0].numpy())
    return Rollout(np.stack(frames), np.stack(masks), np.stack(fields) if fields else None)


@torch.no_grad()
def roll_out_composed(
    model: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    steps: int,
    options: "ComposedRollout | None" = None,
    seed: int = 0,
) -> Rollout:
    """The warp image head rolled out with its fields composed (models/still_to_video.py, what
    `stillmotion generate` runs for such a model): frame t is the still sampled once, at the
    composed map, instead of frame t-1 resampled. `fields` are the per-step fields v_t.
    options: motion strength, residual scale and camera (still_to_video.ComposedRollout); with a
    camera each frame is seen through a camera walking with its profile's statistics
    (models/camera_motion.py, poses drawn from `seed`; `fields` is then None: the frame's map is
    the camera's and the scene's together), a still's dark surround stays fixed while its
    view moves (models/fixed_border.py; `options.border` its threshold, 0 = off) and, where the
    profile has `auto_exposure`, the view's mean brightness is held at the still's; the scene's
    steps then keep only `options.scene()` of their motion (still_to_video.SCENE_MOTIONS: by
    default the camera owns the similarity and the divergence).
    GenerationQualityError for a model without the head or a bad option."""
    from stillmotion_trainer.models import camera_motion, fixed_border
    from stillmotion_trainer.models import still_to_video as s2v

    opts = options or s2v.ComposedRollout()
    try:
        s2v.warp_branch(model)
        opts.validate()
    except s2v.StillToVideoError as err:
        raise GenerationQualityError(f"compose: {err}") from err
    image = np.ascontiguousarray(image, dtype=np.float32)
    mask = np.ascontiguousarray(mask, dtype=np.float32)
    h, w = image.shape[-2:]
    walk, border, scene, scene_mask = None, None, image, mask
    if opts.camera is not None:
        rng = np.random.default_rng(seed)
        walk = camera_motion.CameraWalk(opts.camera, min(h, w), rng, opts.camera_strength)
        found = fixed_border.find_border(image, opts.border)
        if found.any():  # the camera moves the view behind the still's fixed surround
            border = torch.from_numpy(found)
            scene, scene_mask = fixed_border.fill_border(image, found), mask * ~found
    state = s2v.start(
        torch.from_numpy(scene)[None], torch.from_numpy(scene_mask)[None], opts.detail
    )
    still = torch.from_numpy(image)[None]
    frames, masks, fields = [image], [mask], []
    for _ in range(steps):
        state = s2v.composed_step(
            model, state, opts.strength, opts.residual, opts.motion_downsample, opts.scene()
        )
        fields.append(state.step[0].numpy())
        seen_image, seen_mask = state.image, state.mask
        if walk is not None and opts.camera is not None:
            views = PoseViews(state, border, h, w)
            pose = walk.propose()
            if opts.camera.keep_lesion is not None:
                pose = camera_motion.keep_lesion_in_view(
                    pose, walk.rest, views.lesion_area, opts.camera.keep_lesion
                )
            seen = views(walk.accept(pose))
            seen_image, seen_mask = seen.image, seen.mask
            if opts.camera.auto_exposure:
                view = None if border is None else ~border
                seen_image = camera_motion.auto_exposure(seen_image, still, view)
        if border is not None:
            seen_image, seen_mask = fixed_border.through_border(
                seen_image, seen_mask, still, border
            )
        frames.append(seen_image[0].numpy())
        masks.append(seen_mask[0].numpy())
    return Rollout(
        np.stack(frames), np.stack(masks), None if walk is not None else np.stack(fields)
    )


class PoseViews:
    """The state seen through camera poses (still_to_video.view), the last view kept:
    keep_lesion_in_view returns the pose it measured last, so the frame reuses that view instead
    of sampling the still once more."""

    def __init__(
        self, state: "ComposedState", border: Optional[torch.Tensor], height: int, width: int
    ) -> None:
        self.state, self.border, self.size = state, border, (height, width)
        self.last: Optional[tuple[np.ndarray, "ComposedState"]] = None

    def __call__(self, pose: np.ndarray) -> "ComposedState":
        from stillmotion_trainer.models import camera_motion
        from stillmotion_trainer.models import still_to_video as s2v

        if self.last is None or self.last[0] is not pose:
            self.last = (pose, s2v.view(self.state, camera_motion.camera_field(pose, *self.size)))
        return self.last[1]

    def lesion_area(self, pose: np.ndarray) -> float:
        """A(pose) of models/camera_motion.py: the pixels of the view (the frame without the
        fixed border) where the scene's mask seen through the pose is >= 0.5."""
        seen = self(pose).mask[0, 0] >= 0.5
        return float((seen if self.border is None else seen & ~self.border).sum())


def composed_options(
    compose: bool,
    strength: float = 1.0,
    residual: float = 1.0,
    camera: Optional[str | Path] = None,
    camera_strength: float = 1.0,
    border: float = DEFAULT_BORDER,
    detail: float = DEFAULT_DETAIL,
    scene_motion: Optional[str] = None,
) -> "ComposedRollout":
    """still_to_video.ComposedRollout from command-line values (the camera a profile's path);
    GenerationQualityError naming the option or the profile's file (ComposedRollout.validate:
    also the border threshold without a camera, where it cannot act), or any of them changed
    from its default without `compose` (they only apply to a composed roll-out)."""
    from stillmotion_trainer.models.camera_motion import CameraProfileError, load_profile
    from stillmotion_trainer.models.still_to_video import ComposedRollout, StillToVideoError

    try:
        profile = None if camera is None else load_profile(camera)
        options = ComposedRollout(
            strength, residual, profile, camera_strength, border, detail,
            scene_motion=scene_motion,
        ).validate()  # fmt: skip
    except (CameraProfileError, StillToVideoError) as err:
        raise GenerationQualityError(str(err)) from err
    if not compose and options != ComposedRollout():
        raise GenerationQualityError(
            f"strength {strength}, residual {residual}, camera {camera}, camera strength "
            f"{camera_strength}, detail {detail}, scene motion {scene_motion}: only with compose "
            "(a composed roll-out)"
        )
    return options


def at_training_scale(
    options: "ComposedRollout",
    motion_downsample: Optional[int],
    run_config: Any,
    size: int,
    compose: bool,
) -> "ComposedRollout":
    """`options` with the factor by which the image branch's network sees frames of `size` x
    `size` smaller (models/motion_scale.py): `motion_downsample` where given, else (None) the
    model's training scale from its run config (data.size; 1 where the config does not say).
    GenerationQualityError for a factor that is not an integer >= 1, or one given without
    `compose`."""
    from stillmotion_trainer.models import motion_scale

    if motion_downsample is not None and not compose:
        raise GenerationQualityError(
            f"motion downsample {motion_downsample}: only with compose (a composed roll-out)"
        )
    if not compose:
        return options
    if motion_downsample is None:
        trained = motion_scale.training_size(run_config)
        motion_downsample = motion_scale.motion_downsample(trained, size, size)
    options = replace(options, motion_downsample=motion_downsample)
    try:
        return options.validate()
    except ValueError as err:
        raise GenerationQualityError(str(err)) from err


def every_nth(clip: Rollout, n: int) -> Rollout:
    """Frames and masks 0, n, 2n, ... of a clip; every step's field is kept (carry_mask applies
    them all in turn, from the still to the last frame)."""
    if n == 1:
        return clip
    return Rollout(clip.frames[::n], clip.masks[::n], clip.fields)


def carry_mask(mask: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """V_T of the module docstring: mask (1, H, W) warped by each field (T, 2, H, W) in turn
    (models/warp.warp, the lead's backward warp) -> (1, H, W)."""
    from stillmotion_trainer.models.warp import warp

    v = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]
    for u in fields:
        v = warp(v, torch.from_numpy(np.ascontiguousarray(u))[None]).clamp(0.0, 1.0)
    return v[0].numpy()


def clip_quality(clip: Rollout) -> dict[str, Any]:
    """The per-clip numbers of the module docstring for a rolled-out clip."""
    still, last = clip.frames[0], clip.frames[-1]
    drift = colour_drift(still, last)
    flow_carried = flow_masks(clip.frames, {0: clip.masks[0]}).masks[-1]  # (1, H, W)
    record: dict[str, Any] = {
        "colour_drift": drift,
        "colour_drift_max": max(max(drift["mean"]), max(drift["std"])),
        "sharpness_ratio": sharpness_ratio(still, last),
        "consecutive_ssim": consecutive_ssim(clip.frames),
        "motion_px": [motion_px(a, b) for a, b in zip(clip.frames[:-1], clip.frames[1:])],
        "area_ratio": area_ratio(clip.masks[0], clip.masks[-1]),
        "dice_flow": dice(clip.masks[-1], flow_carried),
        "dice_model_motion": None,
    }
    if clip.fields is not None:
        record["dice_model_motion"] = dice(clip.masks[-1], carry_mask(clip.masks[0], clip.fields))
    return record


def load_still(
    image_path: Path, mask_path: Path, channels: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """A still and its mask at size x size: (C, H, W) and (1, H, W) in [0, 1] (mask 0/1).
    Greyscale stills are repeated to 3 channels for a 3-channel model (and RGB averaged for 1)."""
    return read_frame(image_path, channels, size), read_mask(mask_path, size)


def read_mask(path: Path, size: int) -> np.ndarray:
    """A mask at size x size, (1, H, W) 0/1 float32: nearest-neighbour resizing, then >= 128 (as
    the inference package's readMask); unreadable files named."""
    from PIL import Image

    try:
        with Image.open(path) as m:
            m = m.convert("L").resize((size, size), Image.NEAREST)
            return (np.asarray(m) >= 128).astype(np.float32)[None]
    except OSError as e:
        raise GenerationQualityError(f"{path}: cannot read: {e}") from e


def read_index(stills: Path) -> dict[str, str]:
    """still id -> source dataset, from stills/index.csv (columns id, dataset) when present."""
    index = stills / "index.csv"
    if not index.is_file():
        return {}
    with index.open(newline="") as f:
        return {row["id"]: row.get("dataset", "") for row in csv.DictReader(f) if "id" in row}


def real_clip_ssim(dataset: str | Path, size: int, channels: int = 3) -> dict[str, Any]:
    """Consecutive-frame SSIM over every video of a stillmotion dataset, frames at size x size:
    the motion of real clips of a domain, to set the generated clips' distribution beside."""
    from stillmotion_trainer.data.manifest import load_manifest

    manifest = load_manifest(dataset)
    values: list[float] = []
    for video in manifest.videos:
        prev: Optional[np.ndarray] = None
        for frame in video.frames:
            path = manifest.root / frame.image
            cur = read_frame(path, channels, size)
            if prev is not None:
                values.append(ssim(prev, cur))
            prev = cur
    return {"dataset": str(dataset), "pairs": len(values), "ssim": distribution(values)}


def real_ssim_by_gap(folder: str | Path, size: int, channels: int = 3) -> dict[str, Any]:
    """Consecutive-frame SSIM of real sequences in the realdata layout (`<seq>/frames/*.jpg` and
    `<seq>/frame_map.csv`, whose `original_file` numbers the video frame), grouped by how many
    video frames apart the pair is: a sub-sampled clip's neighbours (vocalfolds: 1-20 video
    frames apart) move more than the frames of a 25-30 fps video."""
    by_gap: dict[int, list[float]] = {}
    px_by_gap: dict[int, list[float]] = {}
    for seq in sorted(p for p in Path(folder).iterdir() if (p / "frame_map.csv").is_file()):
        rows = read_frame_map(seq)
        prev: Optional[tuple[int, np.ndarray]] = None
        for index, number in rows:
            cur = read_frame(seq / "frames" / f"{index:06d}.jpg", channels, size)
            if prev is not None:
                by_gap.setdefault(number - prev[0], []).append(ssim(prev[1], cur))
                px_by_gap.setdefault(number - prev[0], []).append(motion_px(prev[1], cur))
            prev = (number, cur)
    every = [v for values in by_gap.values() for v in values]
    return {
        "folder": str(folder),
        "pairs": len(every),
        "ssim": distribution(every),
        "motion_px": distribution([v for values in px_by_gap.values() for v in values]),
        "by_gap": {
            str(g): {
                "pairs": len(v),
                "ssim": distribution(v),
                "motion_px": distribution(px_by_gap[g]),
            }
            for g, v in sorted(by_gap.items())
        },
    }


def read_frame_map(seq: Path) -> list[tuple[int, int]]:
    """(frame index, video frame number) of a realdata sequence's `frame_map.csv`, sorted; the
    original file names number the video frame, some with a suffix ("0001_l.png")."""
    import csv
    import re

    with (seq / "frame_map.csv").open(newline="") as f:
        rows = []
        for r in csv.DictReader(f):
            number = re.match(r"\d+", r["original_file"])
            if number is None:
                raise GenerationQualityError(
                    f"{seq / 'frame_map.csv'}: original_file {r['original_file']!r} does not "
                    "start with the video frame number"
                )
            rows.append((int(r["index"]), int(number.group())))
    return sorted(rows)


def real_clip_identity(
    folder: str | Path, size: int, frames: int = 16, every: int = 8, channels: int = 3
) -> dict[str, Any]:
    """What real video does to the identity numbers: for windows of frames + 1 neighbouring
    frames of each sequence in the realdata layout (a window starting every `every` frames),
    colour drift and sharpness ratio of the window's last frame against its first, and the mask
    area ratio where both frames have a mask (`<seq>/masks/<index>.png`). Real clips are the
    yardstick for the targets a generated clip of `frames` steps is held to."""
    drift, sharp, area = [], [], []
    for seq in sorted(p for p in Path(folder).iterdir() if (p / "frames").is_dir()):
        paths = sorted((seq / "frames").glob("*.jpg"))
        for start in range(0, len(paths) - frames, every):
            first, last = paths[start], paths[start + frames]
            a, b = read_frame(first, channels, size), read_frame(last, channels, size)
            d = colour_drift(a, b)
            drift.append(max(max(d["mean"]), max(d["std"])))
            sharp.append(sharpness_ratio(a, b))
            masks = [seq / "masks" / f"{p.stem}.png" for p in (first, last)]
            if all(m.is_file() for m in masks):
                area.append(area_ratio(read_mask(masks[0], size), read_mask(masks[1], size)))
    lo, hi = AREA_RATIO_RANGE
    finite = [a for a in area if np.isfinite(a)]
    return {
        "windows": len(drift),
        "frames": frames,
        "colour_drift_max": distribution(drift),
        "colour_drift_ok": sum(d <= COLOUR_DRIFT_MAX for d in drift),
        "sharpness_ratio": distribution(sharp),
        "sharpness_ok": sum(v >= SHARPNESS_RATIO_MIN for v in sharp),
        "area_ratio": distribution(finite) if finite else None,
        "area_windows": len(finite),
        "area_ok": sum(lo <= a <= hi for a in finite),
    }


def read_frame(path: Path, channels: int, size: int) -> np.ndarray:
    """One frame at size x size, (C, H, W) in [0, 1]; unreadable files named."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L").resize((size, size), Image.BILINEAR)
            pixels = np.asarray(im, dtype=np.float32) / 255.0
    except OSError as e:
        raise GenerationQualityError(f"{path}: cannot read: {e}") from e
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def summarise(clips: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians and target pass counts over clips (the table of docs/generation.md)."""
    lo, hi = AREA_RATIO_RANGE
    drift = [c["colour_drift_max"] for c in clips]
    sharp = [c["sharpness_ratio"] for c in clips]
    area = [c["area_ratio"] for c in clips]
    ssims = [s for c in clips for s in c["consecutive_ssim"]]
    model_motion = [c["dice_model_motion"] for c in clips if c["dice_model_motion"] is not None]
    return {
        "clips": len(clips),
        "colour_drift_max": distribution(drift),
        "colour_drift_ok": sum(d <= COLOUR_DRIFT_MAX for d in drift),
        "sharpness_ratio": distribution(sharp),
        "sharpness_ok": sum(s >= SHARPNESS_RATIO_MIN for s in sharp),
        "consecutive_ssim": distribution(ssims),
        "motion_px": distribution([m for c in clips for m in c["motion_px"]]),
        "area_ratio": distribution(area),
        "area_ok": sum(lo <= a <= hi for a in area),
        "dice_flow": distribution([c["dice_flow"] for c in clips]),
        "dice_model_motion": distribution(model_motion) if model_motion else None,
    }


def generation_quality(
    checkpoint: str | Path,
    stills: str | Path,
    *,
    frames: int = 16,
    size: int = 128,
    real: Optional[str | Path] = None,
    limit: Optional[int] = None,
    compose: bool = False,
    strength: float = 1.0,
    stride: int = 1,
    residual: float = 1.0,
    camera: Optional[str | Path] = None,
    camera_strength: float = 1.0,
    border: float = DEFAULT_BORDER,
    detail: float = DEFAULT_DETAIL,
    motion_downsample: Optional[int] = None,
    scene_motion: Optional[str] = None,
) -> dict[str, Any]:
    """The report: per-clip numbers, a summary overall and per source dataset, and (with `real`)
    the consecutive-frame SSIM of that dataset's real clips at the same size. compose: roll out
    with `roll_out_composed` (warp image head only) instead of `roll_out`, each step's field
    scaled by `strength`; stride: keep every stride-th of frames * stride model steps (as
    `stillmotion generate --stride`); residual: the learned residual's scale; camera: a camera
    profile (models/camera_motion.py) the composed frames are seen through, its motion times
    `camera_strength`, clip i's poses drawn from seed i; border: the darkness threshold of the
    stills' fixed surround under the camera (models/fixed_border.py; `composed_options`); detail:
    the sigma of detail-preserving sampling (models/detail_sampling.py, 0 = bicubic);
    motion_downsample: with compose, the factor by which the image branch's network sees the
    frame smaller (models/motion_scale.py; None = the model's training scale);
    scene_motion: with a camera, what the scene keeps of each step
    (models/still_to_video.SCENE_MOTIONS; None: "incompressible" with a camera)."""
    from stillmotion_trainer.data.animate_stills import find_stills
    from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint

    if frames < 1 or size < 16:
        raise GenerationQualityError(f"frames >= 1 and size >= 16, got {frames} and {size}")
    if stride < 1:
        raise GenerationQualityError(f"stride: expected an integer >= 1, got {stride}")
    options = composed_options(
        compose, strength, residual, camera, camera_strength, border, detail, scene_motion
    )
    root = Path(stills)
    if not (root / "images").is_dir():
        raise GenerationQualityError(f"{root}: expected a folder with images/ and masks/")
    started = time.perf_counter()
    model, cfg, ckpt = load_generator_from_checkpoint(str(checkpoint))
    options = at_training_scale(options, motion_downsample, ckpt.config, size, compose)
    sources = read_index(root)
    chosen = find_stills(root)[:limit] if limit else find_stills(root)
    clips = []
    for i, (still_id, image_path, mask_path) in enumerate(chosen):
        image, mask = load_still(image_path, mask_path, cfg.channels, size)
        if compose:
            rollout = roll_out_composed(model, image, mask, frames * stride, options, seed=i)
        else:
            rollout = roll_out(model, image, mask, frames * stride)
        rollout = every_nth(rollout, stride)
        record = clip_quality(rollout)
        record.update(id=still_id, dataset=sources.get(still_id, ""))
        clips.append(record)
    by_dataset = {
        name: summarise([c for c in clips if c["dataset"] == name])
        for name in sorted({c["dataset"] for c in clips})
    }
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "stills": str(root),
        "frames": frames,
        "size": size,
        "image_head": cfg.image_head,  # a GeneratorConfig: the field is always there
        "composed": compose,
        "strength": strength,
        "stride": stride,
        "residual": residual,
        "camera": None if camera is None else str(camera),
        "camera_strength": camera_strength,
        "border": border if camera is not None else None,
        "detail": detail if compose else None,
        "motion_downsample": options.motion_downsample if compose else None,
        "scene_motion": options.scene() if compose else None,
        "targets": TARGETS,
        "summary": summarise(clips),
        "by_dataset": by_dataset,
        "clips": clips,
    }
    if real is not None:
        report["real_clips"] = real_clip_ssim(real, size, cfg.channels)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return json_safe(report)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
