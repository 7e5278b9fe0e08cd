"""torchrun with 2 CPU processes: DDP over gloo matches one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from train_helpers import base_raw, quiet

from stillmotion_trainer.training.checkpoint import load_checkpoint
from stillmotion_trainer.training.config import config_from_dict
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.metrics_log import read_metrics

PYTHON_TRAINER = Path(__file__).resolve().parents[2]
LOSS_KEYS = ("total", "image", "mask_first", "mask_second")
GAN_KEYS = ("adv", "d_loss")


def torchrun_workaround() -> list[str]:
    """Debian's torch 1.13 on Python 3.11 crashes on torchrun's default --redirects/--tee 0
    (IntFlag iteration changed); '2' (stderr) parses on every version."""
    from torch.distributed.elastic.multiprocessing.api import Std

    return ["--redirects", "2", "--tee", "2"] if Std.from_str("0") is None else []


@pytest.mark.slow
def test_two_processes_keep_identical_weights_and_match_one_process(tmp_path):
    """Fused walks, truncated back-propagation and the GAN (two DDP-wrapped networks)."""
    raw = base_raw(
        data={"batch_size": 4},
        train={
            "device": "cpu",
            "mode": "fused",
            "bptt_window": 2,
            "gan": {"enabled": True, "discriminator": {"base_width": 4, "depth": 2}},
        },
        loss={"lambda_adv": 0.1},
        stop={"max_steps": 3},
        val={"every_n_steps": 3},
        checkpoint={"every_n_steps": 1, "keep_last": 5},
    )
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *torchrun_workaround(), "--log_dir", str(tmp_path / "torchrun-logs"),
           "-m", "stillmotion_trainer", "train", "--config", str(config),
           "--run-dir", str(tmp_path / "ddp")]  # fmt: skip
    env = os.environ | {"STILLMOTION_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        cmd, cwd=PYTHON_TRAINER, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.count('"event": "end"') == 1  # rank 0 alone prints the summary

    train(config_from_dict(raw), run_dir=tmp_path / "single", log=quiet)

    ddp_rows = read_metrics(tmp_path / "ddp" / "metrics.jsonl")
    one_rows = read_metrics(tmp_path / "single" / "metrics.jsonl")
    assert [(r["kind"], r["step"]) for r in ddp_rows] == [(r["kind"], r["step"]) for r in one_rows]
    for ddp, one in zip(ddp_rows, one_rows):
        for k in LOSS_KEYS + (GAN_KEYS if ddp["kind"] == "train" else ()):
            # Same math, different summation order (per-rank means, gloo all-reduce), so equal
            # to float32 rounding rather than bit for bit.
            assert ddp[k] == pytest.approx(one[k], rel=1e-5, abs=1e-6), (ddp["step"], k)
    for step in (1, 2, 3):
        ckpt = load_checkpoint(tmp_path / "ddp" / "checkpoints" / f"step-{step:08d}.pt")
        digests = ckpt["replica_digests"]
        assert len(digests) == 2 and digests[0] == digests[1]  # identical weights on both ranks
    single = load_checkpoint(tmp_path / "single" / "checkpoints" / "step-00000003.pt")["model"]
    ddp_model = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "step-00000003.pt")["model"]
    for name, tensor in single.items():
        assert (ddp_model[name] - tensor).abs().max() < 1e-5, name
