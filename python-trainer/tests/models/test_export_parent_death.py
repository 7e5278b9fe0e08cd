"""`export` dies with the CLI that started it and leaves nothing at --out (issue N8).

Real processes: the exporter is started as `python -m stillmotion_trainer export` by a parent
that then dies (gone before the exporter is up, or SIGKILLed while it runs); SIGTERM unwinds it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training.checkpoint import Checkpoint

TRAINER_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = generator_config("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    model = build_generator(cfg)
    Checkpoint(model=model.state_dict(), generator_config=dataclasses.asdict(cfg)).save(path)
    return path


@pytest.fixture(scope="module")
def slow_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint whose export takes seconds, not one (a tiny model's export can finish before
    the parent is killed on a fast machine: 1.0 s on a 2-core Xeon); this one about 2.5 s."""
    cfg = generator_config("quality", base_width=64)
    path = tmp_path_factory.mktemp("ckpt") / "slow.pt"
    Checkpoint(
        model=build_generator(cfg).state_dict(), generator_config=dataclasses.asdict(cfg)
    ).save(path)
    return path


def export_argv(checkpoint: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "stillmotion_trainer", "export", "--checkpoint", str(checkpoint),
            "--out", str(out)]  # fmt: skip


def env_with(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TRAINER_DIR), **extra}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_export_whose_parent_is_gone_writes_nothing(checkpoint: Path, tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that is no longer our parent: the CLI died while we imported torch
    out = tmp_path / "generator.onnx"
    env = env_with(STILLMOTION_PARENT_PID=str(gone.pid))
    run = subprocess.run(export_argv(checkpoint, out), env=env, cwd=TRAINER_DIR,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 130, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["ok"] is False and report["code"] == "CANCELLED"
    assert str(out) in report["error"]
    assert list(tmp_path.iterdir()) == []


def test_export_stops_when_its_parent_is_sigkilled(slow_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "generator.onnx"
    # the parent starts the exporter the way the CLI does (its own pid in the environment)
    parent_code = (
        "import os, subprocess, sys, time\n"
        "env = dict(os.environ, STILLMOTION_PARENT_PID=str(os.getpid()))\n"
        f"child = subprocess.Popen({export_argv(slow_checkpoint, out)!r}, env=env,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=env_with(), cwd=TRAINER_DIR,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(1.0)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 120
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(child), "the exporter outlived its parent"
    time.sleep(0.5)
    assert list(tmp_path.iterdir()) == []
