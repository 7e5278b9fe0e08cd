"""Benchmark: what the training loop adds on top of a bare PyTorch loop (issue B).

    trainer_step_overhead_ratio = our loop's step time / a bare loop's step time   (goal <= 1.05)

Both loops train the same generator preset on the same clip shape (walk length clip_len - 1,
forward mode, random seed mask, full back-propagation through the mask chain, AdamW, no
gradient clipping) with the same losses.training_loss, in one process, alternating step by step
(the bare step runs inside our loop's on_step hook and is subtracted from our interval), so both
see the same machine load.

- ours: stillmotion_trainer.training.loop.train, unchanged, with its per-step bookkeeping
  (walk planning, seed masks, metrics.jsonl write + flush, event calls, stop checks, STOP-file
  poll). Its step time = the interval between consecutive on_step events minus the step's
  data-loading time (reported by the loop), so data loading (measured separately by
  loader-headroom.py) is excluded.
- bare: the Fig. 4 chain written inline: forward over the walk, training_loss (with d of each
  pair of frames computed once, as our loop's walk_pass does), backward, optimizer step,
  nothing else, on the batches our loop trains on (loaded and prepared beforehand; an L_M2 term
  costs more when a batch has more key frames), with the model in the loop's weight layout
  (run_state.to_training_layout: channels-last on the CPU).

The value is the median over the timed steps (after a warm-up) of our step time / the bare step
time on the same batch, measured back to back. One step's ratio varies by +-10 % on a shared
2-core machine, so the median of 40 steps moved by +-0.02 between runs; 120 steps (the default)
narrow that, and the details give a bootstrap 90 % interval of the median. The last stdout
line is the JSON result; progress goes to stderr. Run from anywhere with /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python-trainer"))

import torch  # noqa: E402

from stillmotion_trainer.data.manifest import load_manifest  # noqa: E402
from stillmotion_trainer.data.synthetic import generate_dataset  # noqa: E402
from stillmotion_trainer.data.video_dataset import VideoClipDataset  # noqa: E402
from stillmotion_trainer.losses.training_loss import training_loss  # noqa: E402
from stillmotion_trainer.models.factory import build_generator  # noqa: E402
from stillmotion_trainer.runtime import configure_threads  # noqa: E402
from stillmotion_trainer.training.config import config_from_dict  # noqa: E402
from stillmotion_trainer.training.data_order import epoch_batches  # noqa: E402
from stillmotion_trainer.training.config import generator_config_for  # noqa: E402
from stillmotion_trainer.training.events import EventSink  # noqa: E402
from stillmotion_trainer.training.initial_mask import random_blob_mask, walk_generator  # noqa
from stillmotion_trainer.training.loop import train  # noqa: E402
from stillmotion_trainer.training.run_state import to_training_layout  # noqa: E402
from stillmotion_trainer.losses.similarity import pair_similarity  # noqa: E402
from stillmotion_trainer.training.walks import gather_key_frames, key_frame_index  # noqa: E402

GOAL = 1.05


class BareLoop:
    """The same forward + backward + optimizer step, nothing else, on the same batches.

    Step i uses the clips our loop trains on at step i (the loop's data order is a function of
    (seed, epoch, batch index)), loaded, collated and prepared (key frames packed, seed masks
    drawn) before timing: the cost of an L_M2 term grows with the key frames of the batch, so
    both loops must see the same ones.
    """

    def __init__(self, raw: dict[str, Any], steps: int) -> None:
        cfg = config_from_dict(raw)
        manifest = load_manifest(cfg.data.dataset)
        data = VideoClipDataset(
            manifest, [v.id for v in manifest.videos], cfg.data.hw(), cfg.data.clip_len,
            augment=cfg.data.augment, seed=cfg.train.seed,
            clips_per_video=cfg.data.clips_per_video, require_key=cfg.data.require_key,
        )  # fmt: skip
        data.set_epoch(0)
        order = epoch_batches(len(data), cfg.data.batch_size, cfg.train.seed, epoch=0)
        if len(order) < steps:
            raise SystemExit(f"need {steps} batches in one epoch, the data has {len(order)}")
        h, w = cfg.data.hw()
        self.steps = steps
        self.batches = []
        self.is_key: list[torch.Tensor] = []
        self.d_first: dict[int, torch.Tensor] = {}
        self.d_second: dict[int, torch.Tensor] = {}
        for i, clips in enumerate(order[:steps]):
            items = [data[c] for c in clips]
            frames = torch.stack([it["frames"] for it in items])  # (B, T, C, H, W)
            key_masks = torch.stack([it["key_masks"] for it in items])  # (B, T, 1, H, W)
            is_key = torch.stack([it["is_key"] for it in items])  # (B, T)
            seeds = torch.stack(
                [random_blob_mask(h, w, walk_generator(0, 0, i, c, 0)) for c in range(len(clips))]
            )  # (B, 1, H, W)
            self.batches.append((frames, gather_key_frames(frames, key_masks, is_key), seeds))
            self.is_key.append(is_key)
        b, t = len(order[0]), cfg.data.clip_len
        self.inferred = torch.ones(b, t - 1, dtype=torch.bool)
        self.inferred[:, 0] = False
        torch.manual_seed(cfg.train.seed)
        # the layout our loop trains in (run_state.to_training_layout), so only the loop differs
        self.model = to_training_layout(
            build_generator(generator_config_for(cfg, channels=manifest.channels))
        )
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.train.lr)
        self.loss_cfg = cfg.loss

    def frame_similarities(self, i: int) -> None:
        """d of every pair of frames the loss compares, each pair computed once (as the loop's
        walk_pass.walk_similarities does): (I_j, I_j+1) for L_M1, (I_k, I_j+1) for L_M2."""
        frames, (_, _, valid), _ = self.batches[i]
        b, t = frames.shape[:2]
        order, _ = key_frame_index(self.is_key[i])  # (B, K)
        k = order.shape[1]
        base = (torch.arange(b) * t).view(b, 1)  # (B, 1)
        nxt = base + torch.arange(1, t)  # (B, J) flat index of I_j+1
        first_a, second_a = nxt - 1, (base + order).unsqueeze(1).expand(b, t - 1, k)
        second_b = nxt.unsqueeze(2).expand(b, t - 1, k)
        a = torch.cat([first_a.flatten(), second_a.flatten()])
        c = torch.cat([nxt.flatten(), second_b.flatten()])
        n = b * t
        unique, where = torch.unique(
            torch.minimum(a, c) * n + torch.maximum(a, c), return_inverse=True
        )
        d = pair_similarity(self.loss_cfg.d, frames.flatten(0, 1), unique // n, unique % n)[where]
        self.d_first[i] = d[: b * (t - 1)].view(b, t - 1)
        self.d_second[i] = d[b * (t - 1) :].view(b, t - 1, k) * valid.unsqueeze(1)

    def step(self, i: int) -> float:
        t0 = time.perf_counter()
        self.frame_similarities(i)
        frames, keys, mask = self.batches[i]
        mask_ins, images, masks = [], [], []
        for j in range(frames.shape[1] - 1):
            mask_ins.append(mask)
            image, mask = self.model(frames[:, j], mask)
            images.append(image)
            masks.append(mask)
        loss = training_loss(
            frames[:, :-1], frames[:, 1:], torch.stack(images, 1), torch.stack(mask_ins, 1),
            torch.stack(masks, 1), self.inferred, *keys, self.loss_cfg,
            d_first=self.d_first[i], d_second=self.d_second[i],
        )["total"]  # fmt: skip
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - t0


class Interleave(EventSink):
    """Runs the bare steps inside on_step, so the two loops alternate and share the machine's
    load. Our step time = the interval from the end of the previous on_step to the start of this
    one, minus this step's data-loading time.

    Each of our steps is paired with one bare step on the same batch, run right after it (odd
    steps) or right before it (even steps: at the end of the previous on_step), so the order
    within a pair alternates: ours, bare, bare, ours, ours, bare, ... Whatever the order itself
    costs (caches warm with the batch, the allocator's state) falls on both loops alike; with the
    bare step always second, the median ratio read 0.01-0.02 above the ratio of the medians.
    """

    def __init__(self, bare: BareLoop, warmup: int) -> None:
        self.bare, self.warmup = bare, warmup
        self.ours: list[float] = []
        self.bare_times: list[float] = []
        self.left: float | None = None
        self.bare_before: float | None = None  # the bare step run before our current step

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        entered = time.perf_counter()
        if self.left is not None and step > self.warmup:
            self.ours.append(entered - self.left - float(metrics["data_time_s"]))
        if step % 2:  # bare after ours on our batch, then bare before our next step
            after = self.bare.step(step - 1)  # the batch our loop just trained on
            if step > self.warmup:
                self.bare_times.append(after)
            if step < self.bare.steps:
                self.bare_before = self.bare.step(step)  # the batch of our next step
        elif step > self.warmup:  # its bare step ran at the end of on_step(step - 1)
            assert self.bare_before is not None
            self.bare_times.append(self.bare_before)
        self.left = time.perf_counter()


def bootstrap_interval(ratios: list[float], draws: int = 2000) -> tuple[float, float]:
    """5th and 95th percentile of the median of `ratios` resampled with replacement (seeded)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(draws))
    return medians[int(0.05 * draws)], medians[int(0.95 * draws) - 1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="realtime")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--clip-len", type=int, default=8)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=120, help="timed steps of each loop")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="fewer steps")
    args = p.parse_args()
    if args.quick:
        args.steps = 10
    threads = configure_threads()
    # every timed step on its own batch of one epoch (4 videos; clips drawn per video)
    clips_per_video = max(64, -(-(args.warmup + args.steps) * args.batch // 4))
    work = Path(tempfile.mkdtemp(prefix="sm-bench-overhead-"))
    try:
        dataset = generate_dataset(
            work / "data", "endoscopy", num_videos=4, num_frames=args.clip_len * 3,
            size=(args.size, args.size), seed=0, keyframes_per_video=2,
        )  # fmt: skip
        raw = {
            "data": {
                "dataset": str(dataset.parent), "size": args.size, "clip_len": args.clip_len,
                "clips_per_video": clips_per_video, "val_fraction": 0.0, "augment": False,
                "batch_size": args.batch, "num_workers": 0,
            },
            "model": {"preset": args.preset},
            "train": {"device": "cpu", "mode": "forward", "initial_mask": "random",
                      "bptt_window": 0, "grad_clip": 0.0},
            "val": {"every_n_steps": 0},
            "stop": {"max_steps": 1},
            "checkpoint": {"every_n_steps": 0},
            "log": {"every_n_steps": 10, "preview_every_n_steps": 0},
        }  # fmt: skip
        raw["stop"]["max_steps"] = args.warmup + args.steps
        bare = BareLoop(raw, args.warmup + args.steps)
        sink = Interleave(bare, args.warmup)
        train(config_from_dict(raw), run_dir=work / "run", events=sink, log=lambda line: None)
        ours_all, bare_all = sink.ours, sink.bare_times
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours_ms = 1e3 * statistics.median(ours_all)
    bare_ms = 1e3 * statistics.median(bare_all)
    # Each of our steps is paired with the bare step run right after it on the same batch, so
    # the median of the per-step ratios is robust to load that drifts during the run.
    ratios = [o / b for o, b in zip(ours_all, bare_all)]
    paired = statistics.median(ratios)
    low, high = bootstrap_interval(ratios)
    result = {
        "metric": "trainer_step_overhead_ratio",
        "value": paired,
        "goal": f"<= {GOAL}",
        "unit": "ratio",
        "details": {
            "median_ratio_90pct_interval": [low, high],
            "ratio_of_medians": ours_ms / bare_ms,
            "ours_step_ms_median": ours_ms,
            "bare_step_ms_median": bare_ms,
            "ours_step_ms_p90": 1e3 * statistics.quantiles(ours_all, n=10)[-1],
            "bare_step_ms_p90": 1e3 * statistics.quantiles(bare_all, n=10)[-1],
            "timed_steps_each": len(ours_all),
            "preset": args.preset,
            "size": args.size,
            "clip_len": args.clip_len,
            "transitions_per_walk": args.clip_len - 1,
            "batch": args.batch,
            "device": "cpu",
            "threads": threads,
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
