"""Shared set-up of the training tests: one tiny synthetic dataset and small configs.

Not a test module (no test_ prefix); test files import it by name (pytest puts this folder on
sys.path).
"""

from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from stillmotion_trainer.data.synthetic import generate_dataset
from stillmotion_trainer.training.config import RunConfig, config_from_dict

SIZE = 16


@lru_cache(maxsize=None)
def synthetic_dataset(kind: str = "endoscopy", keyframes: int = 2) -> str:
    """A 5-video, 8-frame, 16x16 dataset, generated once per test process."""
    root = Path(tempfile.mkdtemp(prefix="sm-train-data-"))
    atexit.register(shutil.rmtree, root, True)
    generate_dataset(
        root / "ds", kind, num_videos=5, num_frames=8, size=(SIZE, SIZE), seed=3,
        keyframes_per_video=keyframes,
    )  # fmt: skip
    return str(root / "ds")


def base_raw(**sections: dict[str, Any]) -> dict[str, Any]:
    """A raw config for a fast CPU run; `sections` are merged into the defaults below."""
    raw: dict[str, Any] = {
        "data": {
            "dataset": synthetic_dataset(),
            "size": SIZE,
            "clip_len": 4,
            "clips_per_video": 2,
            "val_fraction": 0.2,
            "batch_size": 2,
            "num_workers": 0,
        },
        "model": {"preset": "tiny"},
        "train": {"device": "cpu", "seed": 7},
        "val": {"every_n_steps": 0},
        "stop": {"max_steps": 4},
        "checkpoint": {"every_n_steps": 2, "keep_last": 2},
        "log": {"every_n_steps": 100, "preview_every_n_steps": 0},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(copy.deepcopy(values))
    return raw


def small_config(**sections: dict[str, Any]) -> RunConfig:
    return config_from_dict(base_raw(**sections))


def quiet(_line: str) -> None:
    """A log sink that drops the human log lines."""
