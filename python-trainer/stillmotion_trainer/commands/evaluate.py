"""evaluate: mask propagation and next-frame quality of a checkpoint, beside two baselines.

stdout carries exactly one JSON line: {"ok": true, ...the report...} (docs/evaluation.md), or
{"ok": false, "code": "INVALID_ARGUMENT" | "NOT_FOUND" | ..., "error": "..."} with exit status
2. One line per video goes to stderr as it is evaluated.
"""

from __future__ import annotations

import argparse

HELP = "score mask propagation and next-frame prediction against ground truth and baselines"


def _size(text: str) -> tuple[int, int] | str:
    """'64' -> (64, 64); '48x64' -> (48, 64) as (height, width); 'native' -> 'native'."""
    if text == "native":
        return text
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) in (1, 2) and min(values) >= 1:
        return (values[0], values[-1])
    raise argparse.ArgumentTypeError(f"size must be N, HxW or 'native', got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint file written by `train`")
    p.add_argument("--dataset", required=True, help="dataset folder (or its manifest.json)")
    p.add_argument("--split", choices=["all", "val", "train"], default="all")
    p.add_argument(
        "--video",
        action="append",
        default=[],
        help="evaluate only this video id (repeatable; default: every video of the split)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help="fraction of videos in the val split (default: the run's data.val_fraction)",
    )
    p.add_argument(
        "--seed", type=int, default=None, help="split seed (default: the run's train.seed)"
    )
    p.add_argument(
        "--size",
        type=_size,
        default=None,
        help="evaluation size N, HxW or 'native' (default: the run's data.size)",
    )
    p.add_argument("--fusion", choices=["linear", "nearest"], default="linear")
    p.add_argument(
        "--reference",
        choices=["previous", "key"],
        default="previous",
        help="what each propagation step carries the mask from: the previous frame's inferred "
        "mask (Fig. 6, default) or the key frame's own mask (docs/evaluation.md)",
    )
    p.add_argument(
        "--adapt-steps",
        type=int,
        default=0,
        help="first fit the model's learned correction to each video's key frames for N steps "
        "(augmented copies; evaluation/key_adaptation.py); 0 = off (default)",
    )
    p.add_argument(
        "--adapt-seed",
        type=int,
        default=0,
        help="seed of the adaptation's random augmentations (default 0): another seed measures "
        "how much the scores owe to it",
    )
    p.add_argument(
        "--downsample",
        type=int,
        default=1,
        help="run the model on frames N times smaller per side (box average), masks scored at "
        "--size after bilinear upsampling (models/work_scale.py); default 1",
    )
    p.add_argument("--boundary-tolerance", type=float, default=2.0, help="pixels (default 2)")
    p.add_argument("--max-batch", type=int, default=8, help="chains per generator call")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--out", default=None, help="also write the report here (atomically)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from stillmotion_trainer.data.errors import DatasetError
    from stillmotion_trainer.evaluation.evaluate import EvalOptions, EvaluationError, evaluate
    from stillmotion_trainer.errors import StillMotionError
    from stillmotion_trainer.export.checkpoint_export import CheckpointError
    from stillmotion_trainer.runtime import configure_threads
    from stillmotion_trainer.training.run_dir import atomic_write_json

    configure_threads()
    options = EvalOptions(
        split=args.split,
        videos=tuple(args.video),
        val_fraction=args.val_fraction,
        seed=args.seed,
        size=None if args.size in (None, "native") else args.size,
        native_size=args.size == "native",
        fusion=args.fusion,
        reference=args.reference,
        adapt_steps=args.adapt_steps,
        adapt_seed=args.adapt_seed,
        downsample=args.downsample,
        boundary_tolerance=args.boundary_tolerance,
        max_batch=args.max_batch,
        device=args.device,
    )
    try:
        report = evaluate(
            args.checkpoint, args.dataset, options, log=lambda line: print(line, file=sys.stderr)
        )
    except (CheckpointError, DatasetError, EvaluationError, ValueError) as err:
        code = err.code if isinstance(err, StillMotionError) else "INVALID_ARGUMENT"
        print(json.dumps({"ok": False, "code": code, "error": str(err)}))
        print(f"evaluate failed: {err}", file=sys.stderr)
        return 2
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if args.out:
        atomic_write_json(Path(args.out), report)
        report = {**report, "out": str(Path(args.out).resolve())}
    print(json.dumps({"ok": True, **report}))
    return 0
