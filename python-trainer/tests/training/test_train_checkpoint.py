"""The Checkpoint type: its codec, torch's weights-only loading, atomic writes, resume fallback."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random

import numpy as np
import pytest
import torch
from train_helpers import quiet, small_config

from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training import checkpoint as ckpt_io
from stillmotion_trainer.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    UnsafeCheckpointError,
    list_step_checkpoints,
    step_checkpoint_path,
)
from stillmotion_trainer.training.checkpoint_codec import CodecError, decode, encode
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.metrics_log import read_metrics


def test_codec_round_trips_every_kind_of_state_the_trainer_saves():
    value = {
        "floats": [1.5, -0.0, math.inf, 1e-310, 0.1 + 0.2],
        "tuple": (3, ("nested", None), True),
        "optimizer_state": {0: {"step": torch.tensor(3.0)}, 1: {}},  # int keys
        "dollar": {"$tensor": 1},  # a key that looks like a marker stays a key
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "tensors": [torch.arange(6, dtype=torch.uint8), torch.randn(2, 3, dtype=torch.float64)],
        "big_int": 2**70,
    }
    text, tensors = encode(value)
    back = decode(text, tensors)
    assert back["floats"][:3] == [1.5, -0.0, math.inf] and back["floats"][4] == 0.1 + 0.2
    assert back["tuple"] == (3, ("nested", None), True)
    assert list(back["optimizer_state"]) == [0, 1]
    assert torch.equal(back["optimizer_state"][0]["step"], torch.tensor(3.0))
    assert back["dollar"] == {"$tensor": 1} and back["big_int"] == 2**70
    assert back["python_rng"] == value["python_rng"]
    np.random.set_state(back["numpy_rng"])  # accepted as a real numpy RNG state
    assert back["numpy_rng"][1].dtype == np.uint32
    assert all(torch.equal(a, b) for a, b in zip(back["tensors"], value["tensors"]))
    assert math.isnan(decode(*encode(math.nan)))


def test_codec_refuses_values_it_cannot_store_naming_where():
    with pytest.raises(CodecError, match=r"scheduler\.lambdas: a function cannot be stored"):
        encode({"scheduler": {"lambdas": lambda s: s}})
    with pytest.raises(CodecError, match="bad tensor reference"):
        decode('{"$tensor": 3}', [])
    with pytest.raises(CodecError, match="unknown marker"):
        decode('{"$eval": "print(1)"}', [])


def test_training_checkpoints_load_under_torch_weights_only_default(tmp_path, monkeypatch):
    """torch >= 2.6 loads with weights_only=True unless told otherwise; Debian's 1.13 does not,
    so both ways are exercised: the explicit argument and TORCH_FORCE_WEIGHTS_ONLY_LOAD, which
    makes a bare torch.load(path) behave as 2.6's default does."""
    cfg = small_config(
        stop={"max_steps": 2},
        val={"every_n_steps": 2},
        train={"device": "cpu", "gan": {"enabled": True, "discriminator": {"base_width": 4}}},
        loss={"lambda_adv": 0.05},
    )
    result = train(cfg, run_dir=tmp_path, log=quiet)
    for path in (result.last_checkpoint, result.best_checkpoint):
        payload = torch.load(path, weights_only=True)
        assert payload["format"] == ckpt_io.FORMAT and payload["version"] == ckpt_io.VERSION
        monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
        assert torch.load(path)["state"] == payload["state"]
        monkeypatch.delenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
        ckpt = Checkpoint.load(path, resumable=True)
        assert ckpt.step == 2 and ckpt.training is not None
        assert ckpt.training.discriminator is not None
        assert isinstance(ckpt.training.rng["python"], tuple)
    best = Checkpoint.load(result.best_checkpoint)
    assert math.isfinite(best.best_val_loss) and best.best_val_loss == result.best_val


def test_a_weights_only_checkpoint_exports_but_does_not_resume(tmp_path):
    gen_cfg = generator_config("tiny", channels=3)
    path = tmp_path / "weights.pt"
    model = build_generator(gen_cfg).state_dict()
    Checkpoint(model=model, generator_config=dataclasses.asdict(gen_cfg)).save(path)
    assert Checkpoint.load(path).training is None
    with pytest.raises(CheckpointError, match="weights.pt: holds weights only"):
        train(small_config(), run_dir=tmp_path / "run", resume=str(path), log=quiet)


def test_a_torchscript_archive_is_refused_unopened(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(UnsafeCheckpointError, match="scripted.pt: is a TorchScript archive"):
        Checkpoint.load(path)


def test_save_is_atomic_fsynced_before_rename_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    first = Checkpoint(model={"w": torch.zeros(2)}, generator_config={}, step=1)
    first.save(path)
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])

    def failing_replace(src, dst):  # type: ignore[no-untyped-def]
        calls.append("replace")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        Checkpoint(model={"w": torch.ones(2)}, generator_config={}, step=2).save(path)
    assert calls == ["fsync", "replace"]  # the data is on disk before the rename
    assert Checkpoint.load(path).step == 1  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left
    monkeypatch.setattr(os, "replace", real_replace)
    calls.clear()
    Checkpoint(model={"w": torch.ones(2)}, generator_config={}, step=2).save(path)
    assert calls == ["fsync", "fsync"]  # the file, then its folder (the rename itself)
    assert Checkpoint.load(path).step == 2


def _truncate(path) -> None:  # type: ignore[no-untyped-def]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_resume_auto_falls_back_from_a_truncated_latest_checkpoint(tmp_path):
    six = dict(stop={"max_steps": 6}, checkpoint={"every_n_steps": 2, "keep_last": 3})
    train(small_config(**six), run_dir=tmp_path / "whole", log=quiet)
    four = dict(stop={"max_steps": 4}, checkpoint={"every_n_steps": 2, "keep_last": 3})
    train(small_config(**four), run_dir=tmp_path / "cut", log=quiet)
    _truncate(step_checkpoint_path(tmp_path / "cut", 4))  # as if the copy was cut short
    lines: list[str] = []
    result = train(small_config(**six), run_dir=tmp_path / "cut", resume="auto", log=lines.append)
    assert any("skipping step-00000004.pt" in line and "truncated" in line for line in lines)
    assert any("falling back to step-00000002.pt (step 2)" in line for line in lines)
    assert result.step == 6
    rows = read_metrics(tmp_path / "cut" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]  # steps 3, 4 ran again, once each
    whole = read_metrics(tmp_path / "whole" / "metrics.jsonl")
    assert [r["total"] for r in rows] == [r["total"] for r in whole]


def test_resume_auto_with_no_loadable_checkpoint_names_every_file(tmp_path):
    cfg = small_config(stop={"max_steps": 4})
    train(cfg, run_dir=tmp_path, log=quiet)
    for _, path in list_step_checkpoints(tmp_path):
        _truncate(path)
    with pytest.raises(CheckpointError, match="no step checkpoint can be resumed from") as info:
        train(cfg, run_dir=tmp_path, resume="auto", log=quiet)
    assert "step-00000002.pt" in str(info.value) and "step-00000004.pt" in str(info.value)
    assert info.value.code == "FAILED_PRECONDITION"


def test_a_missing_checkpoint_is_not_found(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt: checkpoint not found") as info:
        Checkpoint.load(tmp_path / "nope.pt")
    assert info.value.code == "NOT_FOUND"


def test_migrate_checkpoint_converts_a_trusted_format_1_file(tmp_path, capsys):
    from stillmotion_trainer.cli import main

    result = train(small_config(stop={"max_steps": 2}), run_dir=tmp_path / "run", log=quiet)
    new = Checkpoint.load(result.last_checkpoint, resumable=True)
    old = tmp_path / "old.pt"
    torch.save({**new.as_dict(), "version": 1}, old)  # what format 1 was: the whole dict pickled
    with pytest.raises(UnsafeCheckpointError, match="old.pt: holds Python objects"):
        Checkpoint.load(old)
    with pytest.raises(SystemExit):  # --trust is required
        main(["migrate-checkpoint", str(old), "--out", str(tmp_path / "new.pt")])
    capsys.readouterr()
    args = ["migrate-checkpoint", str(old), "--out", str(tmp_path / "new.pt"), "--trust"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ok": True, "out": str(tmp_path / "new.pt"), "resumable": True
    }  # fmt: skip
    migrated = Checkpoint.load(tmp_path / "new.pt", resumable=True)
    assert migrated.training is not None and new.training is not None
    assert migrated.training.rng["python"] == new.training.rng["python"]
    assert all(torch.equal(migrated.model[k], v) for k, v in new.model.items())
