"""Benchmark: training throughput of the recommended real recipe at 128 px (issue L, item 3).

    train_clips_per_s_128_recipe   clips per second of the trainer's step (training/step.py
                                   train_step: walks, losses, backward, AdamW; --size 256:
                                   train_clips_per_s_256_recipe), recipe
                                   configs/recipes/real-propagation.yaml as shipped (its
                                   matcher "wide-grey") on real frames
    train_step_vs_bare_ratio       that step's time / the bare PyTorch forward + backward of the
                                   same model on the same walks of the same batch (the model
                                   along every walk, a plain MSE image + mean mask loss, backward,
                                   AdamW): what the method's losses and the bookkeeping add
    train_speedup_vs_before        (with --before REV, the default) the recipe's clips/s over
                                   the recipe as it was at git revision REV (matcher "wide", the
                                   one the earlier trainer knows) on that revision's trainer,
                                   measured side by side in this run: what a user training the
                                   recommended recipe gets today against before issue L
    train_speedup_vs_before_same_model
                                   the same with today's trainer on the earlier recipe (matcher
                                   "wide", BEFORE_MATCHER): the trainer's share of that speedup,
                                   one model trained by both (their first losses are compared)
    train_tcmalloc_vs_glibc_speedup
                                   today's step on glibc's malloc (with the loop's mallopt
                                   tuning, training/host_memory.py) / on tcmalloc, which
                                   `python -m stillmotion_trainer` preloads (allocator.py)

Data: the vendored real clip data/real/vocalfolds-seq8-128 (186 frames, 128 px), copied with a
key mask on every --key-every-th frame (10: the every:10 protocol of docs/real-data.md; 1: a key
mask on every frame, the worst case of L_M2's d terms). Five worker processes, one per trainer
(today, today on glibc, today on the earlier recipe's matcher, before, and the bare loop inside
today's; today's on tcmalloc as the trainer runs, before on glibc as it ran then), each with its
own model seeded alike, load
the same batches (the loop's data order); the parent runs their steps alternately, one step each
in turn, so all of them see the same machine load. Data loading is excluded (bench loader-headroom
measures it). Median over the timed steps after a warm-up. The first step's loss of today's and
of the earlier trainer on the same model are reported too: the optimisation must not change it.

The last stdout line is the JSON result; progress goes to stderr. /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "configs/recipes/real-propagation.yaml"
CLIP = ROOT / "data/real/vocalfolds-seq8-128"
# The trainer as it was when issue L's items 3-4 started (the parent of the first speed commit).
BEFORE_REV = "9e16efd1f8a14aeebd99953a648591f713521d82"
# The recipe's matcher at BEFORE_REV: the earlier trainer knows only "narrow" and "wide" (the
# recipe's "wide-grey" came at stop 23, a speed change of issue L); the same-model comparison
# trains it with today's trainer too. (The recipe freezes the matcher: a forward pass per walk
# step, no gradient.)
BEFORE_MATCHER = "wide"


def keyed_copy(dst: Path, every: int) -> Path:
    """The vendored clip with its gtMask as keyMask on frames 0, every, 2 every, ..."""
    shutil.copytree(CLIP, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    for video in manifest["videos"]:
        for i, frame in enumerate(video["frames"]):
            if i % every == 0:
                frame["keyMask"] = frame["gtMask"]
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def snapshot(rev: str, dst: Path) -> Path:
    """python-trainer/ (and the schemas/ it reads) at git revision `rev`, extracted under dst."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "python-trainer", "schemas"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst / "python-trainer"


# --- worker: one trainer, steps on request ------------------------------------------------------


def worker(trainer: str, kind: str, dataset: str, steps: int, size: int, matcher: str) -> None:
    sys.path.insert(0, trainer)
    import contextlib

    import torch
    import torch.nn.functional as F

    from stillmotion_trainer.runtime import configure_threads
    from stillmotion_trainer.training.config import generator_config_for, load_config
    from stillmotion_trainer.training.data_setup import TrainBatches, build_datasets
    from stillmotion_trainer.training.distributed import init_distributed
    from stillmotion_trainer.training.initial_mask import PURPOSE_TRAIN
    from stillmotion_trainer.training.run_state import build_run_state
    from stillmotion_trainer.training.step import train_step
    from stillmotion_trainer.training.walk_pass import prepare_walks
    from stillmotion_trainer.training.walks import gather_frames

    if kind in ("today", "bare"):  # what train() does first (absent from the earlier trainer)
        from stillmotion_trainer.training.host_memory import keep_freed_memory

        keep_freed_memory()
    configure_threads()
    overrides = [f"data.dataset={dataset}", "data.num_workers=0", f"data.size={size}"]
    if matcher:  # else the recipe's own
        overrides.append(f"model.overrides.matcher={matcher}")
    cfg = load_config(RECIPE, overrides)
    ctx = init_distributed("cpu")
    data = build_datasets(cfg, master=False)
    gen_cfg = generator_config_for(cfg, channels=data.manifest.channels)
    run = build_run_state(cfg, gen_cfg, {}, ctx.device, use_amp=False)
    position = (data.train_set, cfg, 0, 0, ctx, cfg.data.batch_size)
    # today's loader plans each batch's walks and seed masks for its step (walk_plan.py; its
    # workers do it in a run); the earlier trainer drew them inside its step
    loader = TrainBatches(*position) if kind == "before" else TrainBatches(*position, step=0)
    batches = [loader.next()[0] for _ in range(steps)]
    ids = loader.global_clip_ids
    nullctx = contextlib.nullcontext

    def ours(i: int) -> float:
        result = train_step(run, cfg, batches[i], ids, ctx.device, nullctx)
        run.advance(loader.per_epoch)
        return float(result.terms["total"])

    # the bare loop: the same model along the same walks (inputs prepared beforehand)
    prepared = [
        prepare_walks(cfg, b, ctx.device, PURPOSE_TRAIN, i, ids) for i, b in enumerate(batches)
    ]

    def bare(i: int) -> float:
        frames, walks, seeds = prepared[i].frames, prepared[i].walks, prepared[i].seed_masks
        f_in, f_next = gather_frames(frames, walks, walks.src), gather_frames(
            frames, walks, walks.dst
        )
        mask, images, masks = seeds, [], []
        for j in range(walks.transitions):
            image, mask = run.model(f_in[:, j], mask, f_next[:, j])
            images.append(image)
            masks.append(mask)
        loss = F.mse_loss(torch.stack(images, 1), f_next) + torch.stack(masks, 1).mean()
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        return float(loss)

    step = bare if kind == "bare" else ours
    print("ready", flush=True)
    for line in sys.stdin:
        i = int(line)
        t0 = time.perf_counter()
        loss = step(i)
        print(json.dumps({"s": time.perf_counter() - t0, "loss": loss}), flush=True)


# --- parent -------------------------------------------------------------------------------------


def allocator_env(tcmalloc: bool) -> dict[str, str]:
    """A worker's environment: on tcmalloc (as `python -m stillmotion_trainer` runs itself,
    stillmotion_trainer/allocator.py) or on glibc. Imported here, in the parent only: a worker
    must import the trainer it is given."""
    sys.path.insert(0, str(ROOT / "python-trainer"))
    from stillmotion_trainer import allocator

    return allocator.child_environment(os.environ, tcmalloc)


class Worker:
    def __init__(
        self, trainer: Path, kind: str, dataset: Path, steps: int, size: int,
        tcmalloc: bool = True, matcher: str = "",
    ) -> None:  # fmt: skip
        self.kind = kind
        role = "today" if kind.startswith("today") else kind  # today-glibc, today-wide: today's
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", role, "--matcher", matcher,
             "--trainer", str(trainer), "--dataset", str(dataset), "--steps", str(steps),
             "--size", str(size)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=allocator_env(tcmalloc),
        )  # fmt: skip
        self.times: list[float] = []
        self.losses: list[float] = []

    def wait_ready(self) -> None:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line.strip() != "ready":
            raise SystemExit(f"worker {self.kind} failed to start (exit {self.proc.wait()})")

    def step(self, i: int) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{i}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.kind} died at step {i} (exit {self.proc.wait()})")
        out = json.loads(line)
        self.times.append(out["s"])
        self.losses.append(out["loss"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # 12, not 5: this machine's speed drifts by 15-20 % within minutes; the paired ratios'
    # median over five steps moved between 1.95 and 2.27 from run to run (stops 27-28)
    p.add_argument("--steps", type=int, default=12, help="timed steps of each trainer")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps (the heap grows)")
    p.add_argument("--key-every", type=int, default=10)
    p.add_argument("--size", type=int, default=128, help="training size (the clip is 128 px)")
    p.add_argument("--before", default=BEFORE_REV, help="git revision to compare with ('' off)")
    p.add_argument("--quick", action="store_true", help="2 timed steps")
    p.add_argument(
        "--no-glibc", dest="glibc", action="store_false", help="skip the glibc-malloc worker"
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--trainer", help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--matcher", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.trainer, args.worker, args.dataset, args.steps, args.size, args.matcher)
        return 0
    if args.quick:
        args.steps = 2
    total = args.warmup + args.steps
    work = Path(tempfile.mkdtemp(prefix="sm-bench-train-"))
    workers: list[Worker] = []
    try:
        dataset = keyed_copy(work / "data", args.key_every)
        today = ROOT / "python-trainer"
        size = args.size
        workers = [
            Worker(today, "today", dataset, total, size),
            Worker(today, "bare", dataset, total, size),
        ]
        if args.glibc:  # today's trainer on glibc's malloc (with its mallopt tuning)
            workers.append(Worker(today, "today-glibc", dataset, total, size, tcmalloc=False))
        if args.before:  # the earlier recipe on today's trainer, and on the earlier trainer as
            # it ran then: on glibc
            workers.append(
                Worker(today, "today-wide", dataset, total, size, matcher=BEFORE_MATCHER)
            )
            before = snapshot(args.before, work)
            workers.append(
                Worker(
                    before, "before", dataset, total, size, tcmalloc=False, matcher=BEFORE_MATCHER
                )
            )
        for w in workers:
            w.wait_ready()
        for i in range(total):
            for w in workers:
                w.step(i)
            print(f"step {i}: " + ", ".join(f"{w.kind} {w.times[-1]:.2f} s" for w in workers),
                  file=sys.stderr, flush=True)  # fmt: skip
    finally:
        for w in workers:
            w.close()
        shutil.rmtree(work, ignore_errors=True)
    by = {w.kind: w for w in workers}
    batch = 8  # the recipe's data.batch_size
    median = {k: statistics.median(w.times[args.warmup :]) for k, w in by.items()}
    ratios = [
        o / b for o, b in zip(by["today"].times[args.warmup :], by["bare"].times[args.warmup :])
    ]
    details: dict[str, Any] = {
        "recipe": str(RECIPE.relative_to(ROOT)),
        "matcher": "the recipe's",
        "before_matcher": BEFORE_MATCHER,
        "data": f"{CLIP.relative_to(ROOT)}, key mask every {args.key_every} frames",
        "size": args.size,
        "batch": batch,
        "clip_len": 7,
        "timed_steps": args.steps,
        "step_s_median": {k: round(v, 4) for k, v in median.items()},
        "first_step_loss": {k: w.losses[0] for k, w in by.items()},
    }
    metrics = [
        {"metric": f"train_clips_per_s_{args.size}_recipe", "value": batch / median["today"],
         "unit": "clips/s", "details": details},
        {"metric": "train_step_vs_bare_ratio", "value": statistics.median(ratios),
         "unit": "ratio", "details": {"bare_clips_per_s": batch / median["bare"]}},
    ]  # fmt: skip
    if "before" in by:
        details["before_rev"] = args.before
        details["before_clips_per_s"] = batch / median["before"]
        details["same_model_clips_per_s"] = batch / median["today-wide"]
        details["first_step_loss_diff"] = abs(by["today-wide"].losses[0] - by["before"].losses[0])

        def speedup_over_before(kind: str) -> float:
            pairs = zip(by["before"].times[args.warmup :], by[kind].times[args.warmup :])
            return statistics.median(b / t for b, t in pairs)

        metrics.append(
            {"metric": "train_speedup_vs_before", "value": speedup_over_before("today"),
             "goal": ">= 2", "unit": "ratio",
             "details": {"before_rev": args.before, "before_matcher": BEFORE_MATCHER,
                         "today_matcher": "the recipe's"}}
        )  # fmt: skip
        metrics.append(
            {"metric": "train_speedup_vs_before_same_model",
             "value": speedup_over_before("today-wide"), "unit": "ratio",
             "details": {"matcher": BEFORE_MATCHER}}
        )  # fmt: skip
    if "today-glibc" in by:
        details["glibc_clips_per_s"] = batch / median["today-glibc"]
        metrics.append(
            {"metric": "train_tcmalloc_vs_glibc_speedup", "value": statistics.median(
                g / t for g, t in zip(by["today-glibc"].times[args.warmup :],
                                      by["today"].times[args.warmup :])),
             "unit": "ratio", "details": {"allocator": "tcmalloc preloaded vs glibc + mallopt"}}
        )  # fmt: skip
    print(json.dumps({"metrics": metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
