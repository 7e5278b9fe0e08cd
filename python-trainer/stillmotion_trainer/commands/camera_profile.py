"""camera-profile: measure how the camera moves in real clips (a profile for generate --camera)."""

import argparse

HELP = (
    "fit a similarity transform to the Farneback flow of every pair of neighbouring real frames "
    "and write the per-frame motion statistics as a camera profile "
    "(evaluation/camera_profile.py, models/camera_motion.py)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--real-folder", required=True,
        help="real sequences in the realdata layout (<seq>/frames, <seq>/frame_map.csv)",
    )  # fmt: skip
    p.add_argument("--out", required=True, help="the profile JSON to write")
    p.add_argument("--size", type=int, default=128, help="square size frames are resized to")
    p.add_argument(
        "--max-gap", type=int, default=1,
        help="only pairs at most this many video frames apart (default 1: neighbours)",
    )  # fmt: skip
    p.add_argument(
        "--revert", type=float, default=0.8,
        help="how strongly the generated view returns to the still's framing, in [0, 1)",
    )  # fmt: skip
    p.add_argument(
        "--rest-zoom", type=float, default=1.0,
        help="the zoom the view returns to, in [1, 2] (above 1: a margin of the still around "
        "the view, fewer repeated edges, a magnified lesion; default 1)",
    )  # fmt: skip
    p.add_argument(
        "--auto-exposure", action="store_true",
        help="the generated view's mean brightness held at the still's, as a video endoscope's "
        "automatic light control does (models/camera_motion.py)",
    )  # fmt: skip
    p.add_argument(
        "--max-zoom", type=float, default=None,
        help="the most the generated view magnifies the still, in [rest zoom, 4] (a magnified "
        "still is blurred and its lesion enlarged; default: no cap)",
    )  # fmt: skip
    p.add_argument(
        "--keep-lesion", type=float, default=None,
        help="f in (0, 1]: the generated view keeps the lesion's visible area within a factor f "
        "of what the rest pose shows, as a clinician keeps it in view (default: off)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from stillmotion_trainer.evaluation.camera_profile import measure_camera_profile
    from stillmotion_trainer.evaluation.generation_quality import GenerationQualityError
    from stillmotion_trainer.models.camera_motion import CameraProfileError, save_profile

    try:
        profile, report = measure_camera_profile(
            args.real_folder, size=args.size, max_gap=args.max_gap, revert=args.revert,
            rest_zoom=args.rest_zoom, auto_exposure=args.auto_exposure, max_zoom=args.max_zoom,
            keep_lesion=args.keep_lesion,
        )  # fmt: skip
        save_profile(profile, args.out)
    except (GenerationQualityError, CameraProfileError) as e:
        print(json.dumps({"ok": False, "code": e.code, "error": str(e)}))
        return 2
    except OSError as e:
        print(json.dumps({"ok": False, "code": "NOT_FOUND", "error": str(e)}))
        return 2
    print(json.dumps({"ok": True, "profile": asdict(profile), "report": report}))
    return 0
