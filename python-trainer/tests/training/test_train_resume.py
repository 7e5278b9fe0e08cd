"""Checkpoints and resume: a stopped-and-resumed run logs exactly what an uninterrupted one does."""

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
import yaml
from train_helpers import base_raw, quiet, small_config

from stillmotion_trainer.training.checkpoint import (
    CheckpointError,
    TrainingState,
    list_step_checkpoints,
    load_checkpoint,
    step_checkpoint_path,
)
from stillmotion_trainer.training.config import ConfigError
from stillmotion_trainer.training.events import RecordingEvents
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.metrics_log import MetricsLog, read_metrics

PYTHON_TRAINER = Path(__file__).resolve().parents[2]

# The hardest case: GAN, fused walks, a decaying schedule, augmentation, validation with early
# stopping state, and an epoch boundary (4 batches per epoch) between the stop and the end.
HARD = dict(
    train={
        "device": "cpu",
        "mode": "fused",
        "bptt_window": 2,
        "scheduler": {"name": "cosine", "warmup_steps": 2},
        "gan": {"enabled": True, "discriminator": {"base_width": 4, "depth": 2}},
    },
    loss={"lambda_adv": 0.05},
    val={"every_n_steps": 2},
    stop={"max_steps": 7, "early_stopping": {"patience": 50}},
    checkpoint={"every_n_steps": 2, "keep_last": 2},
)


def _rows(run_dir: Path) -> list[dict]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    for r in rows:  # timings differ run to run; everything else must not
        for k in ("time", "data_time_s", "step_time_s", "samples_per_s", "frames_per_s"):
            r.pop(k, None)
    return rows


def test_stopped_and_resumed_run_logs_the_same_losses_as_an_uninterrupted_one(tmp_path):
    train(small_config(**HARD), run_dir=tmp_path / "whole", log=quiet)
    stopper = RecordingEvents(stop_after_steps=3)  # an external stop request at step 3
    assert (
        train(small_config(**HARD), run_dir=tmp_path / "split", events=stopper, log=quiet).step == 3
    )
    result = train(small_config(**HARD), run_dir=tmp_path / "split", resume="auto", log=quiet)
    assert (result.step, result.epoch) == (7, 1)
    whole, split = _rows(tmp_path / "whole"), _rows(tmp_path / "split")
    assert [r["step"] for r in whole if r["kind"] == "train"] == list(range(1, 8))
    assert split == whole  # bit-identical losses, lr, validation and best


def test_resume_drops_metrics_logged_after_the_checkpoint(tmp_path):
    """As after kill -9 between a metrics line and the next checkpoint."""
    cfg = small_config(stop={"max_steps": 5}, checkpoint={"every_n_steps": 2, "keep_last": 5})
    train(cfg, run_dir=tmp_path / "whole", log=quiet)
    short = small_config(stop={"max_steps": 3}, checkpoint={"every_n_steps": 2, "keep_last": 5})
    train(short, run_dir=tmp_path / "crash", log=quiet)
    step_checkpoint_path(tmp_path / "crash", 3).unlink()  # "died" before checkpointing step 3
    with open(tmp_path / "crash" / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "kind": "tr')  # and in the middle of a line
    train(cfg, run_dir=tmp_path / "crash", resume="auto", log=quiet)
    steps = [r["step"] for r in read_metrics(tmp_path / "crash" / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4, 5]
    assert _rows(tmp_path / "crash") == _rows(tmp_path / "whole")


def test_metrics_truncation_is_atomic_and_keeps_complete_lines(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for s in (1, 2, 3):
        log.write("train", s, {"total": 1.0 / s, "nan": float("nan")})
    log.close()
    assert log.truncate_after(2) == 1
    rows = read_metrics(tmp_path / "m.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["nan"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]  # no temp file left


def test_checkpoint_contents_and_keep_last(tmp_path):
    cfg = small_config(stop={"max_steps": 5}, checkpoint={"every_n_steps": 1, "keep_last": 2})
    result = train(cfg, run_dir=tmp_path, log=quiet)
    assert [s for s, _ in list_step_checkpoints(tmp_path)] == [4, 5]
    ckpt = load_checkpoint(result.last_checkpoint)
    assert {f.name for f in dataclasses.fields(TrainingState)} <= set(ckpt)
    assert ckpt["step"] == 5 and ckpt["epoch"] == 1 and ckpt["batch_in_epoch"] == 1
    assert ckpt["generator_config"]["channels"] == 3 and ckpt["config"]["model"]["preset"] == "tiny"
    assert set(ckpt["rng"]) >= {"python", "numpy", "torch"}
    assert not any(p.name.startswith(".") for p in (tmp_path / "checkpoints").iterdir())
    frozen = json.loads((tmp_path / "config.json").read_text())
    assert frozen == ckpt["config"] and frozen["checkpoint"]["run_dir"] == str(tmp_path)


def test_a_fresh_run_refuses_a_used_run_dir_and_a_resume_keeps_its_config(tmp_path):
    train(small_config(stop={"max_steps": 1}), run_dir=tmp_path, log=quiet)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(small_config(stop={"max_steps": 2}), run_dir=tmp_path, log=quiet)
    changed = small_config(stop={"max_steps": 2}, train={"device": "cpu", "lr": 0.5})
    with pytest.raises(ConfigError, match="train.lr: was 0.001 in the run, now 0.5"):
        train(changed, run_dir=tmp_path, resume="auto", log=quiet)
    with pytest.raises(ConfigError, match="--resume: checkpoint .* not found"):
        train(small_config(), run_dir=tmp_path, resume=str(tmp_path / "nope.pt"), log=quiet)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt: not a torch zip archive"):
        train(small_config(), run_dir=tmp_path, resume=str(bad), log=quiet)


def test_a_decaying_schedule_keeps_its_horizon_on_resume(tmp_path):
    linear = {"device": "cpu", "scheduler": {"name": "linear"}}
    train(small_config(stop={"max_steps": 2}, train=linear), run_dir=tmp_path, log=quiet)
    longer = small_config(stop={"max_steps": 9}, train=linear)
    with pytest.raises(ConfigError, match="stop.max_steps: was 2 in the run, now 9"):
        train(longer, run_dir=tmp_path, resume="auto", log=quiet)


def test_a_time_budget_schedule_keeps_its_budget_on_resume(tmp_path):
    sch = {"device": "cpu", "scheduler": {"name": "cosine", "horizon": "time_budget"}}
    first = small_config(stop={"max_steps": 2, "time_budget_s": 600}, train=sch)
    train(first, run_dir=tmp_path, log=quiet)
    longer = small_config(stop={"max_steps": 3, "time_budget_s": 600}, train=sch)
    train(longer, run_dir=tmp_path, resume="auto", log=quiet)  # max_steps may change
    shorter = small_config(stop={"max_steps": 4, "time_budget_s": 60}, train=sch)
    with pytest.raises(ConfigError, match="stop.time_budget_s: was 600 in the run, now 60"):
        train(shorter, run_dir=tmp_path, resume="auto", log=quiet)


def test_resume_auto_on_an_empty_run_dir_starts_fresh(tmp_path):
    result = train(small_config(stop={"max_steps": 1}), run_dir=tmp_path, resume="auto", log=quiet)
    assert result.step == 1


def _cli(config: Path, run_dir: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "stillmotion_trainer", "train", "--config", str(config),
           "--run-dir", str(run_dir), *extra]  # fmt: skip
    env = os.environ | {"STILLMOTION_THREADS": "1"}
    return subprocess.Popen(
        cmd, cwd=PYTHON_TRAINER, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_repeats_no_step(tmp_path):
    config = tmp_path / "run.yaml"
    raw = base_raw(stop={"max_steps": 100000}, checkpoint={"every_n_steps": 3, "keep_last": 2})
    config.write_text(yaml.safe_dump(raw))
    run_dir = tmp_path / "run"
    proc = _cli(config, run_dir)
    try:
        _wait_for(lambda: len(list_step_checkpoints(run_dir)) >= 2, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    logged = [r["step"] for r in read_metrics(run_dir / "metrics.jsonl")]
    target = max(logged) + 4
    resumed = _cli(config, run_dir, "--resume", "auto", "--set", f"stop.max_steps={target}")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["event"] == "end" and summary["reason"] == "max_steps"
    assert summary["step"] == target
    steps = [r["step"] for r in read_metrics(run_dir / "metrics.jsonl")]
    assert steps == list(range(1, target + 1))


@pytest.mark.slow
def test_sigterm_finishes_the_step_checkpoints_and_exits_0(tmp_path):
    config = tmp_path / "run.yaml"
    raw = base_raw(stop={"max_steps": 100000}, checkpoint={"every_n_steps": 0})
    config.write_text(yaml.safe_dump(raw))
    run_dir = tmp_path / "run"
    proc = _cli(config, run_dir)
    metrics = run_dir / "metrics.jsonl"
    _wait_for(lambda: metrics.exists() and metrics.stat().st_size > 0, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["reason"] == "signal" and "SIGTERM: finishing the step" in err
    last = read_metrics(metrics)[-1]["step"]
    assert summary["step"] == last
    assert load_checkpoint(summary["last_checkpoint"])["step"] == last
