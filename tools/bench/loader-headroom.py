"""Benchmark: can the data loader feed the training step with room to spare? (issue B)

    loader_headroom_ratio = data-loader frames/s / frames/s the training step consumes  (>= 3)

- loader: the training DataLoader as the loop builds it (VideoClipDataset with augmentation,
  the configured num_workers, batches of `batch` clips of `clip_len` frames), iterated without
  training; frames/s = clips * clip_len / wall time, after the workers' start-up batch.
- training: the loop itself (stillmotion_trainer.training.loop.train) on the same data and
  shape; frames/s = batch * clip_len / the step time the loop reports (data time excluded).

The two are measured one after the other in alternating rounds in one process, so both see
the same machine; the value is the ratio of the medians over rounds. The last stdout line is
the JSON result; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python-trainer"))

from torch.utils.data import DataLoader  # noqa: E402

from stillmotion_trainer.data.manifest import load_manifest  # noqa: E402
from stillmotion_trainer.data.synthetic import generate_dataset  # noqa: E402
from stillmotion_trainer.data.video_dataset import VideoClipDataset  # noqa: E402
from stillmotion_trainer.runtime import configure_threads  # noqa: E402
from stillmotion_trainer.training.config import config_from_dict  # noqa: E402
from stillmotion_trainer.training.events import EventSink  # noqa: E402
from stillmotion_trainer.training.loop import train  # noqa: E402

GOAL = 3.0


class StepTimes(EventSink):
    def __init__(self) -> None:
        self.step_times: list[float] = []

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        self.step_times.append(float(metrics["step_time_s"]))


def loader_fps(raw: dict[str, Any], batches: int, epoch: int) -> float:
    """Frames per second the training DataLoader delivers (after its first batch)."""
    cfg = config_from_dict(raw)
    manifest = load_manifest(cfg.data.dataset)
    data = VideoClipDataset(
        manifest, [v.id for v in manifest.videos], cfg.data.hw(), cfg.data.clip_len,
        augment=cfg.data.augment, seed=cfg.train.seed, clips_per_video=cfg.data.clips_per_video,
    )  # fmt: skip
    data.set_epoch(epoch)  # fresh clips and augmentations each round: nothing is cached
    order = [
        list(range(i, i + cfg.data.batch_size)) for i in range(0, len(data), cfg.data.batch_size)
    ]
    loader = DataLoader(data, batch_sampler=order[: batches + 1], num_workers=cfg.data.num_workers)
    it = iter(loader)
    next(it)  # worker start-up is a once-per-epoch cost, not throughput
    t0 = time.perf_counter()
    n = 0
    for batch in it:
        n += batch["frames"].shape[0] * batch["frames"].shape[1]
    return n / (time.perf_counter() - t0)


def train_fps(raw: dict[str, Any], run_dir: Path, steps: int, warmup: int) -> float:
    """Frames per second the training step consumes (median step time of the loop)."""
    raw = json.loads(json.dumps(raw))
    raw["stop"]["max_steps"] = warmup + steps
    sink = StepTimes()
    train(config_from_dict(raw), run_dir=run_dir, events=sink, log=lambda line: None)
    step = statistics.median(sink.step_times[warmup:])
    return raw["data"]["batch_size"] * raw["data"]["clip_len"] / step


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="realtime")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--clip-len", type=int, default=8)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers (config default)")
    p.add_argument("--batches", type=int, default=24, help="timed loader batches per round")
    p.add_argument("--steps", type=int, default=8, help="timed training steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="fewer batches, steps and rounds")
    args = p.parse_args()
    if args.quick:
        args.batches, args.steps, args.rounds = 12, 4, 2
    threads = configure_threads()
    work = Path(tempfile.mkdtemp(prefix="sm-bench-loader-"))
    try:
        dataset = generate_dataset(
            work / "data", "endoscopy", num_videos=6, num_frames=args.clip_len * 4,
            size=(args.size, args.size), seed=0, keyframes_per_video=2,
        )  # fmt: skip
        clips_per_video = -(-(args.batches + 1) * args.batch // 6)
        raw = {
            "data": {
                "dataset": str(dataset.parent), "size": args.size, "clip_len": args.clip_len,
                "clips_per_video": max(clips_per_video, args.batch), "val_fraction": 0.0,
                "augment": True, "batch_size": args.batch, "num_workers": args.workers,
            },
            "model": {"preset": args.preset},
            "train": {"device": "cpu"},
            "val": {"every_n_steps": 0},
            "stop": {"max_steps": 1},
            "checkpoint": {"every_n_steps": 0},
            "log": {"every_n_steps": 1000, "preview_every_n_steps": 0},
        }  # fmt: skip
        loader_runs, train_runs = [], []
        for r in range(args.rounds):
            loader_runs.append(loader_fps(raw, args.batches, epoch=r))
            train_runs.append(train_fps(raw, work / f"run-{r}", args.steps, warmup=2))
            print(
                f"round {r}: loader {loader_runs[-1]:.0f} frames/s, "
                f"training step {train_runs[-1]:.0f} frames/s",
                file=sys.stderr,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    loader, training = statistics.median(loader_runs), statistics.median(train_runs)
    result = {
        "metric": "loader_headroom_ratio",
        "value": loader / training,
        "goal": f">= {GOAL}",
        "unit": "ratio",
        "details": {
            "loader_frames_per_s": loader,
            "train_frames_per_s": training,
            "loader_rounds": loader_runs,
            "train_rounds": train_runs,
            "num_workers": args.workers,
            "augment": True,
            "preset": args.preset,
            "size": args.size,
            "clip_len": args.clip_len,
            "batch": args.batch,
            "device": "cpu",
            "threads": threads,
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
