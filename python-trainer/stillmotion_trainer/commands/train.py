"""train: run the training loop from a config file (docs/training.md).

stdout carries exactly one JSON line at the end, {"event": "end", ...} or {"event": "error",
"code", "reason", "message"}; human logs go to stderr. Exit status: 0 for a run that stopped
(docs/training.md, stop conditions), 2 for a typed error (bad config, dataset or checkpoint; a
truncated image met mid-run), 1 for anything else (a full disk, a crash). SIGTERM/SIGINT finish
the current step, checkpoint and exit 0 (a second signal stops at once, exit 1). Under
`torchrun --nproc_per_node=N` every process runs this command; rank 0 alone prints and writes.
"""

import argparse

HELP = "train the next-frame generator (METHOD.md Fig. 4) from a YAML/JSON config"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="run config, .yaml/.yml/.json")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set train.lr=5e-4 (repeatable; YAML values)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="auto|PATH",
        help="continue the run: 'auto' (newest checkpoint of the run dir, if any) or a path",
    )
    p.add_argument("--run-dir", default=None, help="run directory (overrides checkpoint.run_dir)")
    p.add_argument(
        "--fail-on-collapse",
        action="store_true",
        help="stop with reason 'collapse' when the masks stop depending on the input "
        "(same as --set train.fail_on_collapse=true; docs/recipes.md)",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import signal
    import sys
    import threading

    from stillmotion_trainer import runtime
    import traceback

    from stillmotion_trainer.errors import StillMotionError, error_code, error_message
    from stillmotion_trainer.training.config import load_config
    from stillmotion_trainer.training.distributed import local_world_size
    from stillmotion_trainer.training.loop import train

    is_main = int(os.environ.get("RANK", "0")) == 0
    # N processes on one machine share its cores instead of each taking all of them;
    # STILLMOTION_THREADS, when set, wins.
    shared = max(1, runtime.available_cores() // local_world_size())
    runtime.configure_threads(int(os.environ.get("STILLMOTION_THREADS", "0")) or shared)

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():  # second signal: the user does not want to wait for the step
            raise KeyboardInterrupt
        stop.set()
        if is_main:
            name = signal.Signals(signum).name
            print(f"{name}: finishing the step, then checkpoint and exit", file=sys.stderr)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        overrides = list(args.set)
        if args.fail_on_collapse:
            overrides.append("train.fail_on_collapse=true")
        cfg = load_config(args.config, overrides)
        result = train(cfg, run_dir=args.run_dir, resume=args.resume, external_stop=stop.is_set)
    except (Exception, KeyboardInterrupt) as e:
        # Every failure ends the same way: one error line a parent can parse, whatever raised.
        typed = isinstance(e, StillMotionError)
        if is_main:
            if not typed and not isinstance(e, KeyboardInterrupt):
                traceback.print_exc(file=sys.stderr)  # not ours: keep the trace for a bug report
            print(f"error: {e}", file=sys.stderr)
            line = {"event": "error", "code": error_code(e), "message": error_message(e)}
            if getattr(e, "reason", None):
                line["reason"] = getattr(e, "reason")
            print(json.dumps(line), flush=True)
        return 2 if typed else 1
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if is_main:
        summary = {
            "event": "end",
            "reason": result.reason,
            "step": result.step,
            "epoch": result.epoch,
            "run_dir": result.run_dir,
            "last_checkpoint": result.last_checkpoint,
            "best_checkpoint": result.best_checkpoint,
            "best_val": result.best_val,
        }
        print(json.dumps(summary), flush=True)
    return 0
