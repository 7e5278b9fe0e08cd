"""Train one recipe and evaluate it on held-out benchmark splits (docs/recipes.md).

Usage (from python-trainer/, PYTHONPATH=.:../tools/experiments):
    /usr/bin/python3 ../tools/experiments/run_recipe.py --config C.yaml --run-dir R \
        [--set key=value ...] --eval NAME=DATASET [--eval NAME=DATASET ...]

Reads the collapse statistics of every training step from R/metrics.jsonl (the trainer's step
metrics, training/step_metrics.py). Writes R/recipe.json: the config, the collapse statistics
over training, the eval summaries.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from stillmotion_trainer.runtime import configure_threads
from stillmotion_trainer.training.collapse import CollapseMonitor
from stillmotion_trainer.training.config import load_config
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.metrics_log import read_metrics

STAT_KEYS = ("mask_mean", "mask_above_half", "mask_spread", "mask_key_iou")


def step_stats(run_dir: str) -> list[dict[str, float]]:
    """The collapse statistics of each training step; NaN where a step has none (a single
    walk has no spread, a step that lands on no key frame no IoU)."""
    rows = read_metrics(Path(run_dir) / "metrics.jsonl", kind="train")
    return [
        {k: math.nan if row.get(k) is None else row[k] for k in STAT_KEYS}
        for row in rows
    ]


def brief(report: dict[str, Any]) -> dict[str, float]:
    """The numbers of the recipes table (mean over videos)."""
    o = report["overall"]["mean_over_videos"]
    return {
        "dice_model": o["masks"]["model"]["dice"],
        "dice_copy_key": o["masks"]["copy_key"]["dice"],
        "dice_flow": o["masks"]["flow"]["dice"],
        "psnr_model": o["next_frame"]["model"]["psnr"],
        "psnr_copy_last": o["next_frame"]["copy_last"]["psnr"],
        "mask_mean": o["mask_stats"]["mean"],
        "gt_fraction": o["mask_stats"]["gt_fraction"],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--eval", action="append", default=[], metavar="NAME=DATASET")
    args = ap.parse_args()
    configure_threads()
    cfg = load_config(args.config, args.set)
    monitor = CollapseMonitor()
    t0 = time.time()
    result = train(cfg, run_dir=args.run_dir)
    stats = step_stats(args.run_dir)
    warnings = [w for i, s in enumerate(stats) if (w := monitor.update(i + 1, s))]
    from stillmotion_trainer.evaluation.evaluate import EvalOptions, evaluate

    evals: dict[str, Any] = {}
    ckpt = result.last_checkpoint
    for item in args.eval:
        name, dataset = item.split("=", 1)
        report = evaluate(str(ckpt), dataset, EvalOptions(split="all"))
        (Path(args.run_dir) / f"eval-{name}.json").write_text(json.dumps(report))
        evals[name] = brief(report)
    n = len(stats)
    tail = stats[max(0, n - 20) :]
    summary = {
        "config": args.config,
        "set": args.set,
        "steps": result.step,
        "train_seconds": round(time.time() - t0, 1),
        "collapse_warnings": warnings,
        "final_mask_stats": {
            k: sum(s[k] for s in tail) / max(1, len(tail)) for k in tail[0]
        }
        if tail
        else {},
        "eval": evals,
    }
    (Path(args.run_dir) / "recipe.json").write_text(json.dumps(summary, indent=1))
    print(
        json.dumps({"stats": summary["final_mask_stats"], "eval": evals}),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
