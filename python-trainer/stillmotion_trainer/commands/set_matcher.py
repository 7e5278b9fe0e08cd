"""set-matcher: the same warp-head generator with a cheaper matcher (levels dropped or grey)."""

import argparse

HELP = (
    "write a checkpoint whose warp head matches with a cheaper matcher: 'wide' -> 'wide-grey' "
    "(the full-resolution level on the grey image) or 'wide-half' (that level dropped); every "
    "other weight kept (models/matcher_swap.py)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a checkpoint of a generator with the warp mask head")
    p.add_argument("--matcher", required=True, help="the cheaper matcher, e.g. wide-grey")
    p.add_argument("--out", required=True, help="the checkpoint to write (atomically)")


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.models.matcher_swap import (
        MatcherSwapError,
        swap_matcher_state,
        with_matcher_override,
    )
    from stillmotion_trainer.training.checkpoint import Checkpoint, CheckpointError

    try:
        ckpt = Checkpoint.load(args.checkpoint)
        state, gen_cfg = swap_matcher_state(ckpt.model, ckpt.generator_config, args.matcher)
        # the training state (optimizer moments of the dropped levels) does not fit any more:
        # the result is a model to evaluate, export or fine-tune, not a run to resume
        Checkpoint(
            model=state,
            generator_config=gen_cfg,
            config=with_matcher_override(ckpt.config, args.matcher),
            step=ckpt.step,
        ).save(args.out)
    except MatcherSwapError as e:
        error = f"{args.checkpoint}: {e}"
        print(json.dumps({"ok": False, "code": "INVALID_ARGUMENT", "error": error}))
        return 2
    except CheckpointError as e:
        print(json.dumps({"ok": False, "code": e.code, "error": str(e)}))
        return 2
    print(json.dumps({"ok": True, "out": args.out, "matcher": args.matcher, "step": ckpt.step}))
    return 0
