"""Launched by torchrun from test_train_ddp_recipes.py: train several configs one after another.

One torchrun launch for all recipes: each process starts torch and joins the process group once
(seconds on two shared cores), then every `train()` call reuses the group (init_distributed
joins an existing group and leaves it open). Not a test module (no test_ prefix).

Usage: torchrun ... ddp_recipe_runner.py PLAN.json, PLAN = [{"config": path, "run_dir": path}].
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist
import yaml

from stillmotion_trainer.training.config import config_from_dict
from stillmotion_trainer.training.loop import train


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    # a rank that fails leaves the other one waiting in a collective: a minute, not gloo's 30
    dist.init_process_group(backend="gloo", timeout=timedelta(seconds=60))
    try:
        for item in plan:
            raw = yaml.safe_load(Path(item["config"]).read_text())
            train(config_from_dict(raw), run_dir=item["run_dir"], log=lambda _line: None)
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
