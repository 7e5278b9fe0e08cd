"""`evaluate`: how well a generator propagates masks and predicts frames (docs/evaluation.md).

For every video with ground-truth masks:
1. propagate its key-frame mask(s) with the generator (Fig. 6, `propagation.py`), with the
   copy-key baseline and with the Farneback flow baseline (`baselines.py`), all through the same
   chains and fusion;
2. score every non-key frame that has a gtMask: Dice, IoU, boundary F (tolerance in pixels);
   temporal stability of each whole mask sequence; statistics of the model's masks, so a model
   that collapsed to all-ones (or empty) masks shows;
3. next-frame quality: G(I_t, M^_t).image against the real I_{t+1} (PSNR, SSIM), beside
   copy-last-frame (I_t as the prediction of I_{t+1});
then average per video and overall (mean over videos, and frame-weighted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from stillmotion_trainer.data.manifest import Manifest, VideoEntry, load_manifest, split_by_video
from stillmotion_trainer.data.video_dataset import VideoClipDataset
from stillmotion_trainer.evaluation.baselines import FarnebackParams, copy_key_masks, flow_masks
from stillmotion_trainer.evaluation.chains import FUSIONS
from stillmotion_trainer.evaluation.key_adaptation import (
    AdaptOptions,
    adapt_to_keys,
    has_correction,
)
from stillmotion_trainer.evaluation.propagation import (
    REFERENCES,
    predict_next_frames,
    propagate_masks,
)
from stillmotion_trainer.models.work_scale import box_down, check_downsample, check_factor
from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.export.checkpoint_export import (
    checkpoint_preset,
    load_generator_from_checkpoint,
)
from stillmotion_trainer.losses.similarity import ssim_per_sample
from stillmotion_trainer.metrics import boundary_f, dice, iou, psnr, temporal_stability
from stillmotion_trainer.models.factory import takes_next_frame
from stillmotion_trainer.training.checkpoint import Checkpoint

REPORT_FORMAT = "stillmotion-eval"
REPORT_VERSION = 1
SPLITS = ("all", "train", "val")
MASK_METHODS = ("model", "copy_key", "flow")
MASK_METRICS = ("dice", "iou", "boundary_f")
IMAGE_METHODS = ("model", "copy_last")
IMAGE_METRICS = ("psnr", "ssim")
# Collapse flags (issue I): the model's masks cover >= 90 % of the scored frames while the
# lesion covers at most half, or cover (almost) nothing while the lesion covers >= 1 %.
COLLAPSE_ONES_FRACTION = 0.9
COLLAPSE_ZEROS_FRACTION = 0.001


class EvaluationError(StillMotionError, ValueError):
    """Evaluation cannot run; `code` is the gRPC status name the CLI reports."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass
class EvalOptions:
    """What to evaluate and how. None means "take it from the checkpoint's run config"."""

    split: str = "all"
    videos: tuple[str, ...] = ()  # only these video ids (within the split); () = every one
    val_fraction: Optional[float] = None  # default: the run's data.val_fraction (else 0.1)
    seed: Optional[int] = None  # default: the run's train.seed (else 0)
    size: Optional[tuple[int, int]] = None  # (H, W); default: the run's data.size
    native_size: bool = False  # evaluate at each video's own size (ignores `size`)
    fusion: str = "linear"
    reference: str = "previous"  # propagation.REFERENCES: what each step carries the mask from
    adapt_steps: int = 0  # key_adaptation: fit the correction to each video's key frames first
    adapt_seed: int = 0  # its random augmentations (AdaptOptions.seed): run-to-run spread
    downsample: int = 1  # work_scale: the model runs f times smaller per side, masks scored at size
    max_batch: int = 8
    boundary_tolerance: float = 2.0
    device: str = "cpu"
    flow: FarnebackParams = field(default_factory=FarnebackParams)

    def check(self) -> None:
        problems = []
        if self.split not in SPLITS:
            problems.append(
                f"split: unsupported value {self.split!r}. Should be one of: all, " "train, val"
            )
        if self.fusion not in FUSIONS:
            problems.append(
                f"fusion: unsupported value {self.fusion!r}. Should be one of: "
                f"{', '.join(FUSIONS)}"
            )
        if self.reference not in REFERENCES:
            problems.append(
                f"reference: unsupported value {self.reference!r}. Should be one of: "
                f"{', '.join(REFERENCES)}"
            )
        if self.val_fraction is not None and not 0.0 <= self.val_fraction < 1.0:
            problems.append(f"val_fraction: expected a number in [0, 1), got {self.val_fraction}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            problems.append(f"size: expected (height, width) >= 1, got {self.size}")
        if self.adapt_steps < 0:
            problems.append(f"adapt_steps: expected an integer >= 0, got {self.adapt_steps}")
        try:
            check_factor(self.downsample)
        except ValueError as err:
            problems.append(str(err))
        if self.max_batch < 1:
            problems.append(f"max_batch: expected an integer >= 1, got {self.max_batch}")
        if not self.boundary_tolerance >= 0:
            problems.append(f"boundary_tolerance: expected >= 0, got {self.boundary_tolerance}")
        if problems:
            raise EvaluationError("INVALID_ARGUMENT", "; ".join(problems))


# --- one video ---------------------------------------------------------------------------------


@dataclass
class VideoData:
    frames: torch.Tensor  # (T, C, H, W) in [0, 1], at evaluation size
    key_masks: dict[int, torch.Tensor]  # frame -> (1, H, W) in {0, 1}
    key_source: str  # "manifest" | "gt_fallback"
    gt: torch.Tensor  # (T, 1, H, W) in {0, 1}, zeros where has_gt is False
    has_gt: list[bool]


def load_video(manifest: Manifest, video: VideoEntry, size: tuple[int, int]) -> VideoData:
    """Frames, key masks and gt masks of a whole video, resized as training resizes them."""
    clip = VideoClipDataset(
        manifest, [video.id], size, clip_len=len(video.frames), augment=False, require_key=False
    )[0]
    is_key = [bool(x) for x in clip["is_key"]]
    has_gt = [bool(x) for x in clip["has_gt"]]
    keys = {t: clip["key_masks"][t] for t, k in enumerate(is_key) if k}
    source = "manifest"
    if not keys and any(has_gt):
        first = has_gt.index(True)  # frame 0 when it has a gt mask
        keys = {first: clip["gt_masks"][first]}
        source = "gt_fallback"
    return VideoData(clip["frames"], keys, source, clip["gt_masks"], has_gt)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def score_masks(
    masks: np.ndarray, gt: np.ndarray, frames: Sequence[int], tolerance: float
) -> list[dict[str, float]]:
    """Dice, IoU and boundary F of masks[t] against gt[t] for each t in `frames`."""
    return [
        {
            "dice": dice(masks[t], gt[t]),
            "iou": iou(masks[t], gt[t]),
            "boundary_f": boundary_f(masks[t], gt[t], tolerance),
        }
        for t in frames
    ]


def batched_ssim(a: np.ndarray, b: np.ndarray) -> list[float]:
    """metrics.ssim of each pair (a[i], b[i]), in one batched call of the same formula.

    a, b: (N, C, H, W) in [0, 1]. Same float64 computation as metrics.ssim; one call per video
    instead of one per frame pair is ~4x faster on CPU (float64 convolutions pay per call).
    """
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(
            f"batched_ssim: expected two (N, C, H, W) arrays, got {a.shape}, {b.shape}"
        )
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    y = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float64))
    return [float(v) for v in ssim_per_sample(x, y)]


def collapse_kind(fraction_above_half: float, gt_fraction: float) -> Optional[str]:
    """Collapse kind of the model's masks: "ones", "zeros" (see the constants) or None."""
    if fraction_above_half >= COLLAPSE_ONES_FRACTION and gt_fraction <= 0.5:
        return "ones"
    if fraction_above_half <= COLLAPSE_ZEROS_FRACTION and gt_fraction >= 0.01:
        return "zeros"
    return None


def evaluate_video(
    generator: torch.nn.Module, video_id: str, data: VideoData, options: EvalOptions
) -> dict[str, Any]:
    """The per-video record of the report (see docs/evaluation.md for every field)."""
    num_frames = data.frames.shape[0]
    keys = sorted(data.key_masks)
    scored = [t for t in range(num_frames) if data.has_gt[t] and t not in data.key_masks]
    device = torch.device(options.device)
    frames_dev = data.frames.to(device)
    keys_np = {k: m.numpy() for k, m in data.key_masks.items()}
    frames_np = data.frames.numpy()
    gt = data.gt.numpy()

    # 1. Propagate: the model (its correction first fitted to this video's key frames when
    # asked), then the two baselines through the same chains and fusion.
    check_downsample(options.downsample, *data.frames.shape[-2:])  # before any adaptation
    adapt_s = 0.0
    if options.adapt_steps:
        started = time.perf_counter()
        # at the size the model will run at (downsample): what it is fitted to is what it sees
        key_frames = box_down(torch.stack([data.frames[k] for k in keys]), options.downsample)
        key_masks = box_down(torch.stack([data.key_masks[k] for k in keys]), options.downsample)
        key_frames, key_masks = key_frames.to(device), key_masks.to(device)
        generator = adapt_to_keys(
            generator,
            key_frames,
            key_masks,
            AdaptOptions(steps=options.adapt_steps, seed=options.adapt_seed),
        )
        adapt_s = time.perf_counter() - started
    started = time.perf_counter()
    prop = propagate_masks(
        generator,
        frames_dev,
        {k: m.to(device) for k, m in data.key_masks.items()},
        options.fusion,
        options.max_batch,
        options.reference,
        options.downsample,
    )
    model_s = time.perf_counter() - started
    masks = {  # clipped: a linear fusion may leave float rounding just above 1
        "model": np.clip(prop.masks, 0.0, 1.0),
        "copy_key": np.clip(copy_key_masks(num_frames, keys_np, options.fusion).masks, 0.0, 1.0),
        "flow": np.clip(flow_masks(frames_np, keys_np, options.fusion, options.flow).masks, 0, 1),
    }

    # 2. Scores of every non-key frame with a gt mask; stability of each whole sequence.
    per_method = {m: score_masks(masks[m], gt, scored, options.boundary_tolerance) for m in masks}
    per_frame: list[dict[str, Any]] = [
        {
            "frame": t,
            "gt_fraction": float(gt[t].mean()),
            **{m: per_method[m][i] for m in MASK_METHODS},
        }
        for i, t in enumerate(scored)
    ]
    mask_scores: dict[str, dict[str, float]] = {
        m: {
            **{k: _mean([s[k] for s in per_method[m]]) for k in MASK_METRICS},
            "temporal_stability": temporal_stability(masks[m]),
        }
        for m in MASK_METHODS
    }
    model_scored = masks["model"][scored]  # (S, 1, H, W)
    stats: dict[str, Any] = {
        "mean": float(model_scored.mean()),
        "fraction_above_half": float((model_scored > 0.5).mean()),
        "gt_fraction": float(gt[scored].mean()),
    }
    stats["collapsed"] = collapse_kind(stats["fraction_above_half"], stats["gt_fraction"])
    gt_stability = temporal_stability(gt) if all(data.has_gt) else None

    # 3. Next frame: G(I_t, M^_t).image vs I_{t+1}, beside copy-last-frame.
    predicted = predict_next_frames(
        generator, frames_dev, torch.from_numpy(masks["model"]).to(device), options.max_batch
    )
    predicted_np = predicted.clamp(0.0, 1.0).cpu().numpy()
    actual = frames_np[1:]  # (T-1, C, H, W): I_{t+1}
    predictions = {"model": predicted_np, "copy_last": frames_np[:-1]}
    next_frame = {
        m: {
            "psnr": _mean([psnr(p, a) for p, a in zip(predictions[m], actual)]),
            "ssim": _mean(batched_ssim(predictions[m], actual)),
        }
        for m in IMAGE_METHODS
    }
    return {
        "id": video_id,
        "frames": num_frames,
        "key_frames": keys,
        "key_source": data.key_source,
        "scored_frames": len(scored),
        "transitions": num_frames - 1,
        "masks": mask_scores,
        "gt_temporal_stability": gt_stability,
        "mask_stats": stats,
        "next_frame": next_frame,
        "generator_steps": prop.steps,
        "model_seconds": model_s,
        "adapt_seconds": adapt_s,
        "per_frame": per_frame,
    }


# --- the whole dataset -------------------------------------------------------------------------


def _at(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        record = record[key]
    return record


def _aggregate(videos: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over videos, and frame-weighted means: a video's mask scores count once per scored
    frame, its temporal stability and next-frame scores once per transition, which equals
    pooling every frame (transition) of the dataset."""
    by_video: dict[str, Any] = {}
    by_frame: dict[str, Any] = {}

    def put(path: tuple[str, ...], weight: str) -> None:
        values = np.array([_at(v, path) for v in videos], dtype=np.float64)
        w = np.array([v[weight] for v in videos], dtype=np.float64)
        for block, value in ((by_video, values.mean()), (by_frame, np.sum(w * values) / w.sum())):
            for key in path[:-1]:
                block = block.setdefault(key, {})
            block[path[-1]] = float(value)

    for m in MASK_METHODS:
        for k in MASK_METRICS:
            put(("masks", m, k), "scored_frames")
        put(("masks", m, "temporal_stability"), "transitions")
    for k in ("mean", "fraction_above_half", "gt_fraction"):
        put(("mask_stats", k), "scored_frames")
    for m in IMAGE_METHODS:
        for k in IMAGE_METRICS:
            put(("next_frame", m, k), "transitions")
    return {
        "videos": len(videos),
        "scored_frames": int(sum(v["scored_frames"] for v in videos)),
        "transitions": int(sum(v["transitions"] for v in videos)),
        "collapsed_videos": sum(1 for v in videos if v["mask_stats"]["collapsed"]),
        "mean_over_videos": by_video,
        "frame_weighted": by_frame,
    }


def _run_config(ckpt: Checkpoint) -> dict[str, Any]:
    return ckpt.config


def trained_size(ckpt: Checkpoint) -> Optional[tuple[int, int]]:
    """(H, W) the run trained at (data.size), or None when the checkpoint does not say."""
    size = _run_config(ckpt).get("data", {}).get("size")
    if isinstance(size, int) and size > 0:
        return (size, size)
    if isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) for s in size):
        return (int(size[0]), int(size[1]))
    return None


def check_video_ids(manifest: Manifest, ids: Sequence[str]) -> None:
    """NOT_FOUND naming the dataset and every id of `ids` the manifest does not have."""
    known = {v.id for v in manifest.videos}
    unknown = [i for i in dict.fromkeys(ids) if i not in known]
    if unknown:
        raise EvaluationError(
            "NOT_FOUND", f"{manifest.root}: no video {', '.join(map(repr, unknown))}"
        )


def _select_videos(
    manifest: Manifest, split: str, val_fraction: float, seed: int, ids: Sequence[str] = ()
) -> list[VideoEntry]:
    check_video_ids(manifest, ids)
    videos = [v for v in manifest.videos if not ids or v.id in ids]
    if split == "all":
        return videos
    train_ids, val_ids = split_by_video(manifest, val_fraction, seed)
    chosen = set(val_ids if split == "val" else train_ids)
    return [v for v in videos if v.id in chosen]


def _round(x: Any) -> Any:
    """Floats to 6 significant decimals, NaN/inf to None (JSON has neither)."""
    if isinstance(x, float):
        return round(x, 6) if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


def _check_generator_fits(
    generator: torch.nn.Module, checkpoint: str | Path, options: EvalOptions
) -> None:
    """FAILED_PRECONDITION when the options ask for what the generator lacks."""
    if options.reference == "key" and not takes_next_frame(generator):
        raise EvaluationError(
            "FAILED_PRECONDITION",
            f"{checkpoint}: --reference key needs a generator that sees the frame it moves to "
            "(next_frame_input); this one is G(I_t, M_t), which steps from the previous frame only",
        )
    if options.adapt_steps and not has_correction(generator):
        raise EvaluationError(
            "FAILED_PRECONDITION",
            f"{checkpoint}: --adapt-steps fits the learned correction to the key frames; this "
            "generator has none (model.mask_head: warp with mask_refine: true)",
        )


def evaluate(
    checkpoint: str | Path,
    dataset: str | Path,
    options: Optional[EvalOptions] = None,
    log: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    """The evaluation report of `checkpoint` on `dataset` (docs/evaluation.md, "The report")."""
    options = options or EvalOptions()
    options.check()
    started = time.perf_counter()
    generator, gen_cfg, ckpt = load_generator_from_checkpoint(str(checkpoint))
    generator = generator.to(torch.device(options.device)).eval()
    _check_generator_fits(generator, checkpoint, options)
    manifest = load_manifest(dataset)
    if manifest.channels != gen_cfg.channels:
        raise EvaluationError(
            "FAILED_PRECONDITION",
            f"{manifest.root}: dataset has channels={manifest.channels} but the generator of "
            f"{checkpoint} takes channels={gen_cfg.channels}",
        )
    run_cfg = _run_config(ckpt)
    val_fraction = options.val_fraction
    if val_fraction is None:
        val_fraction = float(run_cfg.get("data", {}).get("val_fraction", 0.1))
    seed = (
        options.seed if options.seed is not None else int(run_cfg.get("train", {}).get("seed", 0))
    )
    size = None if options.native_size else (options.size or trained_size(ckpt))
    selected = _select_videos(manifest, options.split, val_fraction, seed, options.videos)

    videos: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    warnings: list[str] = []
    for video in selected:
        if not any(f.gt_mask for f in video.frames):
            skipped.append({"id": video.id, "reason": "no frame has a gtMask"})
            continue
        data = load_video(manifest, video, size or (video.height, video.width))
        if not any(h and t not in data.key_masks for t, h in enumerate(data.has_gt)):
            skipped.append({"id": video.id, "reason": "no non-key frame has a gtMask"})
            continue
        if data.key_source == "gt_fallback":
            first = next(iter(data.key_masks))
            warnings.append(
                f"{video.id}: no keyMask in the manifest; frame {first}'s gtMask "
                "is used as the key mask"
            )
        record = evaluate_video(generator, video.id, data, options)
        d = {m: record["masks"][m]["dice"] for m in MASK_METHODS}
        log(
            f"eval {video.id} | {record['frames']} frames, keys {record['key_frames']} | dice "
            f"model {d['model']:.3f} copy {d['copy_key']:.3f} flow {d['flow']:.3f} | psnr "
            f"{record['next_frame']['model']['psnr']:.2f} vs copy-last "
            f"{record['next_frame']['copy_last']['psnr']:.2f}"
        )
        if record["mask_stats"]["collapsed"]:
            stats = record["mask_stats"]
            warnings.append(
                f"{video.id}: model masks look collapsed to all-{stats['collapsed']} "
                f"(mean {stats['mean']:.3f}, {stats['fraction_above_half']:.1%} of "
                f"pixels > 0.5; gt covers {stats['gt_fraction']:.1%})"
            )
        videos.append(record)
    if not videos:
        reasons = "; ".join(f"{s['id']}: {s['reason']}" for s in skipped[:5]) or "no videos"
        raise EvaluationError(
            "FAILED_PRECONDITION",
            f"{manifest.root}: nothing to evaluate in split {options.split!r} ({len(selected)} "
            f"video(s); {reasons}). Evaluation needs gtMask on non-key frames",
        )
    overall = _aggregate(videos)
    report = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "checkpoint": str(Path(checkpoint).resolve()),
        "step": ckpt.step,
        "preset": checkpoint_preset(ckpt),
        "generator": {
            "variant": gen_cfg.variant,
            "channels": gen_cfg.channels,
            "next_frame_input": takes_next_frame(generator),
        },
        "dataset": str(manifest.root.resolve()),
        "dataset_name": manifest.name,
        "split": options.split,
        "val_fraction": val_fraction,
        "seed": seed,
        "size": list(size) if size else "native",
        "fusion": options.fusion,
        "reference": options.reference,
        "downsample": options.downsample,
        "adapt_steps": options.adapt_steps,
        "adapt_seed": options.adapt_seed,
        "boundary_tolerance_px": options.boundary_tolerance,
        "flow": {"method": "farneback", **options.flow.as_dict()},
        "methods": {"masks": list(MASK_METHODS), "images": list(IMAGE_METHODS)},
        "videos": videos,
        "skipped": skipped,
        "overall": overall,
        "warnings": warnings,
        "elapsed_s": time.perf_counter() - started,
    }
    if overall["collapsed_videos"]:
        warnings.append(
            f"model masks look collapsed on {overall['collapsed_videos']} of "
            f"{len(videos)} video(s)"
        )
    result: dict[str, Any] = _round(report)
    return result
