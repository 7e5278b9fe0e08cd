"""migrate-checkpoint: convert a format-1 checkpoint (a plain pickled dict) you trust to format 2.

The one place in the project that unpickles a checkpoint with the full pickle machinery, which
runs any code the file holds; hence the required --trust flag. Every other reader uses
`Checkpoint.load`, which refuses such files (docs/training.md, "What is safe to load").
"""

from __future__ import annotations

import argparse

HELP = "convert a format-1 checkpoint you trust (a plain pickle: it can run code) to format 2"

# format-1 keys of the training state (everything but model, generator_config, config, step)
_TRAINING_KEYS = (
    "loss_config", "epoch", "batch_in_epoch", "optimizer", "scheduler", "scaler",
    "discriminator", "d_optimizer", "early_stopping", "best_val", "elapsed_s", "rng",
    "replica_digests",
)  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the format-1 checkpoint file")
    p.add_argument("--out", required=True, help="format-2 checkpoint to write (atomically)")
    p.add_argument(
        "--trust",
        action="store_true",
        required=True,
        help="required: you vouch for the file, since reading it runs any code it holds",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import torch

    from stillmotion_trainer.training.checkpoint import (
        Checkpoint,
        CheckpointError,
        TrainingState,
    )

    try:
        # weights_only=False on purpose: the user passed --trust for exactly this file
        raw = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        if not isinstance(raw, dict) or "model" not in raw or "generator_config" not in raw:
            raise CheckpointError(args.checkpoint, "not a checkpoint (no model/generator_config)")
        training = None
        if all(k in raw for k in _TRAINING_KEYS):
            training = TrainingState(**{k: raw[k] for k in _TRAINING_KEYS})
        ckpt = Checkpoint(
            model=dict(raw["model"]),
            generator_config=raw["generator_config"],
            config=raw.get("config") or {},
            step=int(raw.get("step") or 0),
            training=training,
        )
        ckpt.save(args.out)
        Checkpoint.load(args.out, resumable=training is not None)  # what every reader will do
    except (OSError, RuntimeError, ValueError, TypeError, EOFError) as err:
        code = getattr(err, "code", "INVALID_ARGUMENT")
        message = str(err) if isinstance(err, CheckpointError) else f"{args.checkpoint}: {err}"
        print(json.dumps({"ok": False, "code": code, "error": message}))
        print(f"migrate-checkpoint failed: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"ok": True, "out": args.out, "resumable": training is not None}))
    return 0
