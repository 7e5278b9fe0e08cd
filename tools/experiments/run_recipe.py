"""Train one recipe and evaluate it on held-out benchmark splits (docs/recipes.md).

Usage (from python-trainer/, PYTHONPATH=.:../tools/experiments):
    /usr/bin/python3 ../tools/experiments/run_recipe.py --config C.yaml --run-dir R \
        [--set key=value ...] --eval NAME=DATASET [--eval NAME=DATASET ...]

Wraps `loop.run_walks` to record the collapse statistics of every training step (the same
statistics the trainer reports in its step metrics once collapse detection is wired in).
Writes R/recipe.json: the config, the collapse statistics over training, the eval summaries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from stillmotion_trainer.training.collapse import CollapseMonitor, mask_statistics
from stillmotion_trainer.runtime import configure_threads
from stillmotion_trainer.training import loop
from stillmotion_trainer.training.config import load_config

STATS: list[dict[str, float]] = []


ORIGINAL_RUN_WALKS = loop.run_walks


def run_walks(*args: Any, **kwargs: Any) -> Any:
    """loop.run_walks, plus the collapse statistics of each training step."""
    wb = ORIGINAL_RUN_WALKS(*args, **kwargs)
    if torch.is_grad_enabled():  # training steps only, not validation
        _, _, key_masks, is_key, walks = args[:5]
        STATS.append(mask_statistics(wb.pred_masks, walks.dst, walks.clip, key_masks, is_key))
    return wb


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
    loop.run_walks = run_walks  # type: ignore[assignment]
    monitor = CollapseMonitor()
    t0 = time.time()
    result = loop.train(cfg, run_dir=args.run_dir)
    warnings = [w for i, s in enumerate(STATS) if (w := monitor.update(i + 1, s))]
    from stillmotion_trainer.evaluation.evaluate import EvalOptions, evaluate

    evals: dict[str, Any] = {}
    ckpt = result.last_checkpoint
    for item in args.eval:
        name, dataset = item.split("=", 1)
        report = evaluate(str(ckpt), dataset, EvalOptions(split="all"))
        (Path(args.run_dir) / f"eval-{name}.json").write_text(json.dumps(report))
        evals[name] = brief(report)
    n = len(STATS)
    tail = STATS[max(0, n - 20) :]
    summary = {
        "config": args.config,
        "set": args.set,
        "steps": result.step,
        "train_seconds": round(time.time() - t0, 1),
        "collapse_warnings": warnings,
        "final_mask_stats": {k: sum(s[k] for s in tail) / max(1, len(tail)) for k in tail[0]}
        if tail
        else {},
        "eval": evals,
    }
    (Path(args.run_dir) / "recipe.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({"stats": summary["final_mask_stats"], "eval": evals}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
