"""A crafted pickle payload is refused at every place that loads a checkpoint, and never runs.

Loading sites: `export`, `evaluate`, `infer-reference`, resume (a given file, and --resume auto
with the payload as the newest step checkpoint) and the server's ExportOnnx, over real gRPC.
"""

from __future__ import annotations

import json
import pickle
import shutil
import threading

import grpc
import pytest
import torch
from checkpoint_payloads import PAYLOADS
from train_helpers import base_raw, quiet, small_config, synthetic_dataset

from stillmotion_trainer.cli import main
from stillmotion_trainer.gen import trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.grpc_server import start_server
from stillmotion_trainer.server.telemetry import TelemetryPublisher
from stillmotion_trainer.training.checkpoint import (
    CheckpointError,
    UnsafeCheckpointError,
    step_checkpoint_path,
)
from stillmotion_trainer.training.loop import train


@pytest.fixture(params=sorted(PAYLOADS))
def evil(request, tmp_path):
    """(payload file, marker it would create) for each kind of hostile file."""
    marker = tmp_path / "PWNED"
    path = PAYLOADS[request.param](tmp_path / f"evil-{request.param}.pt", marker)
    yield path, marker
    assert not marker.exists(), "the payload ran"


def test_the_payloads_are_live_when_fully_unpickled(tmp_path):
    """The control: each file does create its marker under a plain pickle load."""
    for name, write in PAYLOADS.items():
        marker = tmp_path / f"ran-{name}"
        path = write(tmp_path / f"{name}.pt", marker)
        if name == "legacy_pickle":
            with open(path, "rb") as f:
                pickle.load(f)
        else:
            torch.load(path, weights_only=False)
        assert marker.exists(), name


def _json_line(capsys) -> dict:  # type: ignore[no-untyped-def]
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_export_refuses_it(evil, tmp_path, capsys):
    path, _ = evil
    out = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(path), "--out", str(out)]) == 2
    report = _json_line(capsys)
    assert report["ok"] is False and report["code"] == "INVALID_ARGUMENT"
    assert report["error"].startswith(f"{path}: ")
    assert not out.exists()


def test_evaluate_refuses_it(evil, capsys):
    path, _ = evil
    assert main(["evaluate", "--checkpoint", str(path), "--dataset", synthetic_dataset()]) == 2
    report = _json_line(capsys)
    assert report["ok"] is False and report["code"] == "INVALID_ARGUMENT"
    assert str(path) in report["error"]


def test_infer_reference_refuses_it(evil, tmp_path, capsys):
    path, _ = evil
    out = tmp_path / "ref"
    assert main(["infer-reference", "--checkpoint", str(path), "--out", str(out)]) == 2
    report = _json_line(capsys)
    assert report["ok"] is False and str(path) in report["error"]
    assert not out.exists()


def test_resume_from_it_is_refused(evil, tmp_path):
    path, _ = evil
    with pytest.raises(CheckpointError, match=str(path)):
        train(small_config(), run_dir=tmp_path / "run", resume=str(path), log=quiet)


def test_resume_auto_skips_it_as_the_newest_step_checkpoint(evil, tmp_path):
    path, _ = evil
    run_dir = tmp_path / "run"
    train(small_config(stop={"max_steps": 2}), run_dir=run_dir, log=quiet)
    shutil.copy(path, step_checkpoint_path(run_dir, 9))
    lines: list[str] = []
    result = train(
        small_config(stop={"max_steps": 3}), run_dir=run_dir, resume="auto", log=lines.append
    )
    assert result.step == 3
    assert any("skipping step-00000009.pt" in line for line in lines)


def test_unsafe_files_are_named_and_told_how_to_convert(tmp_path):
    path = PAYLOADS["version1"](tmp_path / "old.pt", tmp_path / "PWNED")
    with pytest.raises(UnsafeCheckpointError, match="old.pt: holds Python objects") as info:
        from stillmotion_trainer.training.checkpoint import Checkpoint

        Checkpoint.load(path)
    assert "migrate-checkpoint --trust" in str(info.value)
    assert not (tmp_path / "PWNED").exists()


def test_server_export_onnx_refuses_it(evil, tmp_path):
    path, _ = evil
    run_dir = tmp_path / "run"
    telemetry = TelemetryPublisher("tcp://127.0.0.1:0")
    server, port, runs = start_server("127.0.0.1:0", telemetry)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = trainer_pb2_grpc.TrainerStub(channel)
            raw = json.dumps(base_raw(stop={"max_steps": 2}))
            request = trainer_pb2.StartRunRequest(config_json=raw, run_dir=str(run_dir))
            stub.StartRun(request, timeout=10)
            worker = threading.Thread(target=runs.run_pending, args=(10,))
            worker.start()
            worker.join(120)
            assert runs.run is not None and runs.run.state == "FINISHED", runs.run
            inside = shutil.copy(path, run_dir / "checkpoints" / "evil.pt")
            with pytest.raises(grpc.RpcError) as info:
                stub.ExportOnnx(
                    trainer_pb2.ExportOnnxRequest(checkpoint_path=str(inside)), timeout=60
                )
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "evil.pt" in info.value.details()
    finally:
        server.stop(grace=0)
        telemetry.close()
    assert not (run_dir / "export").exists()
