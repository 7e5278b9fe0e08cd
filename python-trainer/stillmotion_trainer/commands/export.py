"""export: a training checkpoint -> an ONNX generator for @stillmotion/inference."""

from __future__ import annotations

import argparse

HELP = "export a checkpoint's generator to ONNX (prints one JSON report line)"

# Exit status of a process ended by SIGINT (128 + 2), as a shell reports it.
INTERRUPTED_EXIT = 130


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
    p.add_argument(
        "--split",
        action="store_true",
        help="mask-only, as a features graph (once per frame) and a step graph: the fastest "
        "propagation for a warp-head generator (docs/models.md)",
    )


def _interrupt_on_terminate() -> None:
    """SIGTERM unwinds like Ctrl-C (KeyboardInterrupt).

    The exporter writes a temporary file and renames it over --out only at the end; unwinding
    through its `finally` removes that file, so a killed export leaves nothing behind.
    """
    import signal

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, raise_interrupt)


def _tie_to_parent() -> None:
    """Turn the death of the CLI that started us, even by SIGKILL, into our SIGTERM.

    The CLI passes its pid in STILLMOTION_PARENT_PID; PR_SET_PDEATHSIG or the watchdog
    (runtime.die_with_parent) then stops the export, so no .onnx appears after the CLI is gone.
    """
    import os
    import signal

    from stillmotion_trainer.runtime import die_with_parent

    parent = os.environ.get("STILLMOTION_PARENT_PID", "")
    if parent.isdigit():
        die_with_parent(lambda: os.kill(os.getpid(), signal.SIGTERM), parent=int(parent))


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    _interrupt_on_terminate()
    # torch imports take seconds; a signal meanwhile ends us before anything is written
    from stillmotion_trainer.export.checkpoint_export import CheckpointError, export_checkpoint
    from stillmotion_trainer.export.onnx_export import ExportError
    from stillmotion_trainer.runtime import configure_threads

    try:
        # a parent that died during the imports is noticed here, before any file is opened
        _tie_to_parent()
        configure_threads()
        report = export_checkpoint(
            args.checkpoint, args.out, opset=args.opset, mask_only=args.mask_only, split=args.split
        )
    except KeyboardInterrupt as err:
        why = f"export interrupted ({err or 'SIGINT'}); nothing written to {args.out}"
        print(json.dumps({"ok": False, "code": "CANCELLED", "error": why}))
        print(f"export failed: {why}", file=sys.stderr)
        return INTERRUPTED_EXIT
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
