"""synth: render a synthetic endoscopy- or ultrasound-like dataset (deterministic by seed)."""

import argparse

HELP = "render a synthetic dataset; prints one JSON line with the manifest path"


def _size(text: str) -> tuple[int, int]:
    """'64' -> (64, 64); '48x64' -> (48, 64) as (height, width)."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f"size must be N or HxW, got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=["endoscopy", "ultrasound"], default="endoscopy")
    p.add_argument("--out", required=True, help="output dataset folder (must be empty or new)")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=24, help="frames per video")
    p.add_argument("--size", type=_size, default=(64, 64), help="N or HxW (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keyframes", type=int, default=1, help="key frames per video")
    p.add_argument(
        "--motion",
        default="easy",
        help="easy | hard | sweep | shake, or several joined by commas (video i takes style "
        "i mod n); default easy",
    )
    p.add_argument("--no-gt", action="store_true", help="write masks for key frames only")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from stillmotion_trainer.data.synthetic import generate_dataset

    try:
        path = generate_dataset(
            args.out,
            kind=args.kind,
            num_videos=args.videos,
            num_frames=args.frames,
            size=args.size,
            seed=args.seed,
            keyframes_per_video=args.keyframes,
            motion=args.motion,
            gt_masks=not args.no_gt,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError) as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        print(f"synth: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"ok": True, "manifest": str(path)}))
    return 0
