"""adapt: a checkpoint whose learned correction is fitted to a dataset's key frames.

Key-frame adaptation (evaluation/key_adaptation.py) for models used outside `evaluate`: the
adapted generator is saved as a weights-only checkpoint, which `export` turns into the ONNX
model `stillmotion propagate` runs. Key frames are the manifest's keyMask frames of the chosen
videos (default: every video that has one), at the run's training size unless --size says.

stdout carries exactly one JSON line: {"ok": true, "out": ..., "videos": [...], "key_frames": N,
"steps": S, "seconds": T}, or {"ok": false, "code": ..., "error": ...} with exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "fit a checkpoint's learned mask correction to a dataset's key frames (weights-only .pt)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from stillmotion_trainer.commands.evaluate import _size
    from stillmotion_trainer.evaluation.key_adaptation import AdaptOptions

    p.add_argument("--checkpoint", required=True, help="checkpoint file (train's, or shipped)")
    p.add_argument("--dataset", required=True, help="dataset folder whose frames carry keyMask")
    p.add_argument(
        "--video",
        action="append",
        default=None,
        help="adapt to this video's key frames (repeatable; default: every video with one)",
    )
    p.add_argument(
        "--steps", type=int, default=AdaptOptions.steps, help="adaptation steps (default 300)"
    )
    p.add_argument("--seed", type=int, default=0, help="augmentation seed (default 0)")
    p.add_argument(
        "--size", type=_size, default=None, help="N or HxW (default: the run's data.size)"
    )
    p.add_argument("--out", required=True, help="adapted checkpoint to write (atomically)")


def _key_frames(
    manifest: Any, videos: list[str] | None, size: tuple[int, int] | None
) -> tuple[Any, Any, list[str]]:
    """(frames (K, C, H, W), masks (K, 1, H, W), ids of the videos they come from): the
    manifest's keyMask frames of `videos` (default every video), resized to `size` (default
    each video's own)."""
    import torch

    from stillmotion_trainer.evaluation.evaluate import (
        EvaluationError,
        check_video_ids,
        load_video,
    )

    check_video_ids(manifest, videos or [])
    known = {v.id: v for v in manifest.videos}
    frames, masks, used = [], [], []
    for video in [known[v] for v in videos] if videos else manifest.videos:
        if not any(f.key_mask for f in video.frames):
            continue
        data = load_video(manifest, video, size or (video.height, video.width))
        frames += [data.frames[t] for t in sorted(data.key_masks)]
        masks += [data.key_masks[t] for t in sorted(data.key_masks)]
        used.append(video.id)
    if not frames:
        raise EvaluationError(
            "FAILED_PRECONDITION",
            f"{manifest.root}: no keyMask in the chosen video(s); adapt needs key frames",
        )
    if len({tuple(f.shape) for f in frames}) > 1:
        raise EvaluationError(
            "INVALID_ARGUMENT",
            f"{manifest.root}: videos of different sizes; pass --size N to adapt to them together",
        )
    return torch.stack(frames), torch.stack(masks), used


def adapt_checkpoint(args: argparse.Namespace) -> dict[str, Any]:
    """Load, adapt and save (the module docstring); the report's fields without "ok"."""
    import time
    from pathlib import Path

    from stillmotion_trainer.data.manifest import load_manifest
    from stillmotion_trainer.evaluation.evaluate import EvaluationError, trained_size
    from stillmotion_trainer.evaluation.key_adaptation import (
        AdaptOptions,
        adapt_to_keys,
        has_correction,
    )
    from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint
    from stillmotion_trainer.training.checkpoint import Checkpoint

    started = time.perf_counter()
    options = AdaptOptions(steps=args.steps, seed=args.seed)
    options.check()
    generator, _, ckpt = load_generator_from_checkpoint(args.checkpoint)
    if not has_correction(generator):
        raise EvaluationError(
            "FAILED_PRECONDITION",
            f"{args.checkpoint}: adapt fits the learned correction; this generator has "
            "none (model.mask_head: warp with mask_refine: true)",
        )
    manifest = load_manifest(args.dataset)
    size = args.size if args.size not in (None, "native") else trained_size(ckpt)
    frames, masks, used = _key_frames(manifest, args.video, size)
    adapted = adapt_to_keys(generator, frames, masks, options)
    provenance = {
        "from": str(Path(args.checkpoint).resolve()),
        "dataset": str(manifest.root.resolve()),
        "videos": used,
        "key_frames": len(frames),
        "steps": options.steps,
        "seed": options.seed,
    }
    Checkpoint(
        model=adapted.state_dict(),
        generator_config=ckpt.generator_config,
        config={**ckpt.config, "adaptation": provenance},
        step=ckpt.step,
    ).save(args.out)
    return {
        "out": str(Path(args.out).resolve()),
        "videos": used,
        "key_frames": len(frames),
        "steps": options.steps,
        "seconds": round(time.perf_counter() - started, 3),
    }


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from stillmotion_trainer.errors import StillMotionError
    from stillmotion_trainer.runtime import configure_threads

    configure_threads()
    try:
        report = adapt_checkpoint(args)
    except StillMotionError as err:  # checkpoint, dataset, evaluation and adaptation errors
        print(json.dumps({"ok": False, "code": err.code, "error": str(err)}))
        print(f"adapt failed: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"ok": True, **report}))
    return 0
