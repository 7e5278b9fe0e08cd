"""export: a training checkpoint -> an ONNX generator for @stillmotion/inference."""

from __future__ import annotations

import argparse

HELP = "export a checkpoint's generator to ONNX (prints one JSON report line)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint file written by `train`")
    p.add_argument("--out", required=True, help="ONNX file to write (atomically)")
    p.add_argument(
        "--opset",
        type=int,
        help="ONNX opset (default: the lowest the model needs, 13 or 16)",
    )
    p.add_argument(
        "--mask-only",
        action="store_true",
        help="leave the next_image output and the image branch out: a faster graph for "
        "propagation (still -> video needs the full one)",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from stillmotion_trainer.export.checkpoint_export import CheckpointError, export_checkpoint
    from stillmotion_trainer.export.onnx_export import ExportError
    from stillmotion_trainer.runtime import configure_threads

    configure_threads()
    try:
        report = export_checkpoint(
            args.checkpoint, args.out, opset=args.opset, mask_only=args.mask_only
        )
    except (CheckpointError, ExportError, ValueError) as err:
        code = err.code if isinstance(err, CheckpointError) else "INVALID_ARGUMENT"
        if isinstance(err, ExportError):
            code = "INTERNAL"  # the checkpoint was fine; the exported graph failed a check
        print(json.dumps({"ok": False, "code": code, "error": str(err)}))
        print(f"export failed: {err}", file=sys.stderr)
        return 2
    report.pop("metadata", None)  # long; it is in the file
    print(json.dumps({"ok": True, **report}))
    return 0
