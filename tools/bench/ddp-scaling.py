"""Benchmark: training throughput of 2 DDP processes against 1 process on the same machine.

    ddp_scaling_2proc = clips/s of `torchrun --nproc_per_node=2` / clips/s of one process
                        (goal >= 0.9)

Both train the recommended recipe (configs/quickstart.yaml: next-frame warp head + correction,
cycle walks, reseeding; realtime preset, 64 x 64, clip_len 7) on the same global batch of 8
clips, on CPU, with the thread pools the train command gives them (the machine's cores for one
process, half each for two: runtime.configure_threads). So the figure answers: on the cores one
process already uses, what do two DDP processes gain or lose? Above 1: the per-rank work runs
better on fewer threads than intra-op parallelism does; below 1: DDP's gradient all-reduce and
synchronisation cost more than that. The goal allows DDP 10 % over one process: beyond that,
`--nproc` on one machine would be a trap rather than the way to outgrow it.

clips/s per step = global batch / (data time + step time) as the loop logs it (rank 0's
samples_per_s: its step waits for the other rank at every all-reduce, so it is the pair's
rate). The loader runs in the training process (num_workers 0) so no worker processes compete
for the cores differently in the two set-ups. The value is the ratio of the medians over the
timed steps (after warm-up), the two set-ups alternating run by run (`--rounds`) so both see
the same load. The figure means something on an otherwise idle machine only: under
oversubscription either side collapses (a 2-thread process loses its threads to spin-waits, two
processes wait for each other at every collective): two --quick runs on the shared 2-core dev
VM at load averages 9-21 gave 10.3 and 0.033, so the result carries the load average. The last
stdout line is the JSON result; progress goes to stderr.
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
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TRAINER = ROOT / "python-trainer"
RECIPE = ROOT / "configs" / "quickstart.yaml"
sys.path.insert(0, str(TRAINER))

from stillmotion_trainer.data.synthetic import generate_dataset  # noqa: E402
from stillmotion_trainer.runtime import available_cores  # noqa: E402
from stillmotion_trainer.training.metrics_log import read_metrics  # noqa: E402

GOAL = 0.9
METRIC = "ddp_scaling_2proc"


def torchrun_flags() -> list[str]:
    """Debian's torch 1.13 on Python 3.11 crashes on torchrun's default --redirects/--tee 0
    (docs/training.md); '2' parses on every version."""
    from torch.distributed.elastic.multiprocessing.api import Std

    return ["--redirects", "2", "--tee", "2"] if Std.from_str("0") is None else []


def run_config(dataset: Path, steps: int) -> dict[str, Any]:
    raw = yaml.safe_load(RECIPE.read_text())
    raw["data"].update(dataset=str(dataset), num_workers=0, val_fraction=0.0)
    raw.setdefault("train", {})["device"] = "cpu"
    raw["stop"] = {"max_steps": steps}
    raw["val"] = {"every_n_steps": 0}
    raw["checkpoint"] = {"every_n_steps": 0, "keep_last": 1}
    raw["log"] = {"every_n_steps": 1000, "preview_every_n_steps": 0}
    return raw


def train_once(config: Path, run_dir: Path, nproc: int) -> list[float]:
    """Train in a fresh process (or two, under torchrun); the per-step clips/s of rank 0."""
    train = ["-m", "stillmotion_trainer", "train", "--config", str(config),
             "--run-dir", str(run_dir)]  # fmt: skip
    if nproc == 1:
        cmd = [sys.executable, *train]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", *torchrun_flags(),
               "--log_dir", str(run_dir.parent / f"{run_dir.name}-logs"), *train]  # fmt: skip
    env = {
        k: v for k, v in os.environ.items() if k not in ("STILLMOTION_THREADS", "OMP_NUM_THREADS")
    }
    proc = subprocess.run(cmd, cwd=TRAINER, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{nproc}-process training failed:\n{proc.stderr[-3000:]}")
    return [
        r["samples_per_s"] for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "train"
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=12, help="timed steps of each run")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2, help="1-process/2-process run pairs")
    p.add_argument("--quick", action="store_true", help="one round of fewer steps")
    args = p.parse_args()
    if args.quick:
        args.steps, args.rounds = 5, 1
    work = Path(tempfile.mkdtemp(prefix="sm-bench-ddp-"))
    try:
        raw = run_config(work / "data", args.warmup + args.steps)
        generate_dataset(
            work / "data", "endoscopy", num_videos=6, num_frames=3 * raw["data"]["clip_len"],
            size=(raw["data"]["size"], raw["data"]["size"]), seed=0, keyframes_per_video=2,
        )  # fmt: skip
        config = work / "run.yaml"
        config.write_text(yaml.safe_dump(raw))
        rates: dict[int, list[float]] = {1: [], 2: []}
        load_before = os.getloadavg()[0]
        for r in range(args.rounds):
            for nproc in (1, 2):
                print(f"ddp-scaling: round {r + 1}, {nproc} process(es)", file=sys.stderr)
                per_step = train_once(config, work / f"run-{r}-{nproc}", nproc)
                rates[nproc] += per_step[args.warmup :]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    result = {
        "metric": METRIC,
        "value": two / one,
        "goal": f">= {GOAL}",
        "unit": "ratio",
        "details": {
            "clips_per_s_1proc_median": one,
            "clips_per_s_2proc_median": two,
            "timed_steps_each": len(rates[1]),
            "recipe": str(RECIPE.relative_to(ROOT)),
            "preset": raw["model"]["preset"],
            "size": raw["data"]["size"],
            "clip_len": raw["data"]["clip_len"],
            "global_batch": raw["data"]["batch_size"],
            "device": "cpu",
            "cores": available_cores(),
            # other jobs on the cores distort the figure either way (module docstring): read it
            # only next to a low load average
            "load_average_1min_before_after": [load_before, load_after],
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
