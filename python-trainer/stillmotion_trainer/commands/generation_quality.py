"""generation-quality: still -> video identity numbers of a checkpoint on real stills (issue 17)."""

import argparse

from stillmotion_trainer.models.detail_sampling import DEFAULT_DETAIL
from stillmotion_trainer.models.fixed_border import DEFAULT_THRESHOLD as DEFAULT_BORDER
from stillmotion_trainer.models.still_to_video import SCENE_MOTIONS

HELP = (
    "roll a checkpoint out from stills (images/, masks/) and measure colour drift, sharpness, "
    "motion (consecutive SSIM) and mask area / agreement (evaluation/generation_quality.py)"
)


SCENE_MOTION_HELP = (
    "with --camera: what the scene keeps of each step; 'whole' as predicted, 'nonrigid' less its "
    "global similarity (shift, rotation, zoom: models/scene_nonrigid.py), 'incompressible' "
    "(default) less its divergence too, so it does not swell or shrink what it moves "
    "(models/scene_incompressible.py); the camera owns the rest"
)
MOTION_DOWNSAMPLE_HELP = (
    "with --compose: the image branch's network sees each frame this many times smaller per "
    "side, its step brought back up (models/motion_scale.py; default: the model's training "
    "scale, max(1, floor(size / its data.size)); 1 = the frame's own size)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="trainer checkpoint (.pt)")
    p.add_argument("--stills", required=True, help="folder with images/<id>.* and masks/<id>.png")
    p.add_argument("--frames", type=int, default=16, help="generated frames per still (default 16)")
    p.add_argument("--size", type=int, default=128, help="square size stills are resized to")
    p.add_argument("--real", help="stillmotion dataset of real clips: their consecutive SSIM too")
    p.add_argument(
        "--real-folder",
        help="real sequences in the realdata layout (<seq>/frames, <seq>/frame_map.csv): their "
        "consecutive SSIM and Farneback motion in pixels, by video-frame gap, and the identity "
        "numbers of their own windows of --frames frames",
    )
    p.add_argument("--limit", type=int, help="only the first N stills (sorted by id)")
    p.add_argument("--out", help="write the full report (per clip) as JSON here")
    p.add_argument(
        "--compose",
        action="store_true",
        help="warp image head: sample the still once per frame at the composed fields "
        "(models/still_to_video.py, what `stillmotion generate` runs) instead of resampling "
        "the previous frame",
    )
    p.add_argument(
        "--strength", type=float, default=1.0,
        help="with --compose: each step's field times this (motion strength, default 1)",
    )  # fmt: skip
    p.add_argument(
        "--stride", type=int, default=1,
        help="keep every n-th of frames x n model steps (as generate --stride; default 1)",
    )  # fmt: skip

    p.add_argument(
        "--residual", type=float, default=1.0,
        help="with --compose: the learned residual (occlusions, lighting) times this; 0 moves "
        "the still only (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--camera",
        help="with --compose: a camera profile (camera-profile's JSON); every frame is seen "
        "through a camera moving like the real clips it was measured on",
    )
    p.add_argument(
        "--camera-strength", type=float, default=1.0,
        help="with --camera: the camera's per-frame motion times this (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--border", type=float, default=DEFAULT_BORDER,
        help="with --camera: a still's surround darker than this in every channel and connected "
        "to the frame's edge stays fixed while its view moves (models/fixed_border.py; default "
        f"{DEFAULT_BORDER}, 0 = none)",
    )  # fmt: skip
    p.add_argument(
        "--detail", type=float, default=DEFAULT_DETAIL,
        help="with --compose: the still's detail finer than this Gaussian sigma (pixels) moves by "
        "whole pixels, so resampling keeps speckle and texture sharp (models/detail_sampling.py; "
        f"default {DEFAULT_DETAIL}, 0 = plain bicubic)",
    )  # fmt: skip
    p.add_argument(
        "--motion-downsample", type=int, default=None,
        help=MOTION_DOWNSAMPLE_HELP,
    )  # fmt: skip
    p.add_argument("--scene-motion", choices=SCENE_MOTIONS, help=SCENE_MOTION_HELP)


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.errors import StillMotionError
    from stillmotion_trainer.evaluation.generation_quality import generation_quality

    try:
        report = generation_quality(
            args.checkpoint, args.stills, frames=args.frames, size=args.size, real=args.real,
            limit=args.limit, compose=args.compose, strength=args.strength, stride=args.stride,
            residual=args.residual, camera=args.camera,
            camera_strength=args.camera_strength, border=args.border, detail=args.detail,
            motion_downsample=args.motion_downsample,
            scene_motion=args.scene_motion,
        )  # fmt: skip
    except (StillMotionError, FileNotFoundError, OSError) as e:
        code = getattr(e, "code", "NOT_FOUND")
        print(json.dumps({"ok": False, "code": code, "error": str(e)}))
        return 2
    if args.real_folder:
        from stillmotion_trainer.evaluation.generation_quality import (
            real_clip_identity,
            real_ssim_by_gap,
        )

        report["real_by_gap"] = real_ssim_by_gap(args.real_folder, args.size)
        report["real_identity"] = real_clip_identity(args.real_folder, args.size, args.frames)
    if args.out:
        from stillmotion_trainer.fs_atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    summary = {k: v for k, v in report.items() if k != "clips"}
    print(json.dumps({"ok": True, **summary}))
    return 0
