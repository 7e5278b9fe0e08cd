"""downstream-seg: do generated clips help a segmentation model? (issue 17, item 2)."""

import argparse

from stillmotion_trainer.commands.generation_quality import (
    SCENE_MOTION_HELP,
    MOTION_DOWNSAMPLE_HELP,
)
from stillmotion_trainer.models.detail_sampling import DEFAULT_DETAIL
from stillmotion_trainer.models.fixed_border import DEFAULT_THRESHOLD as DEFAULT_BORDER
from stillmotion_trainer.models.still_to_video import SCENE_MOTIONS

HELP = (
    "train a small segmentation network on stills only vs stills + clips generated from them, "
    "score Dice on held-out stills (evaluation/downstream_segmentation.py)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--generator", required=True, help="generator checkpoint (.pt) for the clips")
    p.add_argument("--stills", required=True, help="folder with images/<id>.* and masks/<id>.png")
    p.add_argument("--size", type=int, default=128, help="square size (default 128)")
    p.add_argument("--frames", type=int, default=16, help="generated frames per still")
    p.add_argument("--test-every", type=int, default=3, help="hold out every n-th still (3)")
    p.add_argument("--steps", type=int, default=300, help="segmentation training steps (300)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    p.add_argument("--compose", action="store_true", help="clips with composed fields")
    p.add_argument("--strength", type=float, default=1.0, help="with --compose: motion strength")
    p.add_argument("--residual", type=float, default=1.0, help="with --compose: residual scale")
    p.add_argument("--camera", help="with --compose: a camera profile the clips are seen through")
    p.add_argument("--camera-strength", type=float, default=1.0, help="with --camera: its motion x")
    p.add_argument(
        "--border", type=float, default=DEFAULT_BORDER,
        help="with --camera: darkness threshold of the stills' fixed surround (0 = none)",
    )  # fmt: skip
    p.add_argument(
        "--detail", type=float, default=DEFAULT_DETAIL,
        help="with --compose: detail-preserving sampling's sigma in pixels (0 = plain bicubic)",
    )  # fmt: skip
    p.add_argument(
        "--motion-downsample", type=int, default=None,
        help=MOTION_DOWNSAMPLE_HELP,
    )  # fmt: skip
    p.add_argument("--scene-motion", choices=SCENE_MOTIONS, help=SCENE_MOTION_HELP)
    p.add_argument("--out", help="write the report as JSON here")


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.errors import StillMotionError
    from stillmotion_trainer.evaluation.downstream_segmentation import downstream_segmentation
    from stillmotion_trainer.runtime import configure_threads

    configure_threads()
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        report = downstream_segmentation(
            args.generator, args.stills, size=args.size, frames=args.frames,
            test_every=args.test_every, steps=args.steps, batch=args.batch, seeds=seeds,
            compose=args.compose, strength=args.strength, residual=args.residual,
            camera=args.camera, camera_strength=args.camera_strength, border=args.border,
            detail=args.detail,
            motion_downsample=args.motion_downsample,
            scene_motion=args.scene_motion,
        )  # fmt: skip
    except ValueError as e:
        print(json.dumps({"ok": False, "code": "INVALID_ARGUMENT", "error": str(e)}))
        return 2
    except (StillMotionError, OSError) as e:
        print(json.dumps({"ok": False, "code": getattr(e, "code", "NOT_FOUND"), "error": str(e)}))
        return 2
    if args.out:
        from stillmotion_trainer.fs_atomic import atomic_write_json

        atomic_write_json(args.out, report)
    print(json.dumps({"ok": True, **report}))
    return 0
