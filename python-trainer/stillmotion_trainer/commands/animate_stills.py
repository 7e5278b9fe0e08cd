"""animate-stills: stills with masks -> clips under random smooth motion (animate_stills.py)."""

import argparse

HELP = "turn stills with masks (images/, masks/) into a dataset of clips under random smooth motion"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("stills", help="folder with images/<id>.* and masks/<id>.png")
    p.add_argument("--out", required=True, help="output dataset folder (must be empty or new)")
    p.add_argument("--frames", type=int, default=12, help="frames per clip (default 12)")
    p.add_argument("--size", type=int, default=128, help="square frame size (default 128)")
    p.add_argument("--clips-per-still", type=int, default=1)
    p.add_argument("--channels", type=int, choices=[1, 3], default=3)
    p.add_argument("--strength", type=float, default=1.0, help="motion strength multiplier")
    p.add_argument("--key-every", type=int, default=1, help="a key mask every N frames")
    p.add_argument("--include", help="only stills whose id starts with these prefixes (a,b)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset")


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.data.animate_stills import animate_stills

    try:
        path = animate_stills(
            args.stills, args.out, frames=args.frames, size=args.size,
            clips_per_still=args.clips_per_still, channels=args.channels,
            strength=args.strength, key_every=args.key_every, seed=args.seed,
            include=args.include, overwrite=args.overwrite,
        )  # fmt: skip
    except (ValueError, FileExistsError, FileNotFoundError, OSError) as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        return 2
    print(json.dumps({"ok": True, "manifest": str(path)}))
    return 0
