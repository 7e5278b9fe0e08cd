"""set-matcher: the same warp-head generator with a cheaper matcher (levels dropped or grey)
and/or its correction at half size."""

import argparse

HELP = (
    "write a checkpoint whose warp head is cheaper to run: --matcher 'wide' -> 'wide-grey' "
    "(the full-resolution level on the grey image), 'wide-half' (that level dropped) or "
    "'wide-half-grey' (dropped, and the 1/2 level on the grey image), and/or "
    "--refine-scale 2 (the correction at half size); every other weight kept "
    "(models/matcher_swap.py)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a checkpoint of a generator with the warp mask head")
    p.add_argument("--matcher", default=None, help="the cheaper matcher, e.g. wide-grey")
    p.add_argument(
        "--refine-scale",
        type=int,
        default=None,
        help="run the correction (mask_refine) at 1/N of the resolution: 1 or 2",
    )
    p.add_argument("--out", required=True, help="the checkpoint to write (atomically)")


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.models.matcher_swap import (
        MatcherSwapError,
        swap_matcher_state,
        with_model_overrides,
        with_refine_scale,
    )
    from stillmotion_trainer.training.checkpoint import Checkpoint, CheckpointError

    try:
        if args.matcher is None and args.refine_scale is None:
            raise MatcherSwapError("nothing to change: give --matcher, --refine-scale or both")
        ckpt = Checkpoint.load(args.checkpoint)
        state, gen_cfg = ckpt.model, ckpt.generator_config
        changed: dict[str, object] = {}
        if args.matcher is not None:
            state, gen_cfg = swap_matcher_state(state, gen_cfg, args.matcher)
            changed["matcher"] = args.matcher
        if args.refine_scale is not None:
            gen_cfg = with_refine_scale(gen_cfg, args.refine_scale)
            changed["refine_scale"] = args.refine_scale
        # the training state (optimizer moments of the dropped levels) does not fit any more:
        # the result is a model to evaluate, export or fine-tune, not a run to resume
        Checkpoint(
            model=state,
            generator_config=gen_cfg,
            config=with_model_overrides(ckpt.config, changed),
            step=ckpt.step,
        ).save(args.out)
    except MatcherSwapError as e:
        error = f"{args.checkpoint}: {e}"
        print(json.dumps({"ok": False, "code": "INVALID_ARGUMENT", "error": error}))
        return 2
    except CheckpointError as e:
        print(json.dumps({"ok": False, "code": e.code, "error": str(e)}))
        return 2
    print(json.dumps({"ok": True, "out": args.out, **changed, "step": ckpt.step}))
    return 0
