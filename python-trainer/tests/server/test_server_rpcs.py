"""Every RPC of the trainer service against a real server, a real run and real files.

One run is started over gRPC, followed with StreamEvents, stopped with StopRun; then its
checkpoints are listed and exported, and ExportOnnx's path rules are checked (N5: both paths
must stay inside the run directory, symlinks followed).
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import threading
from pathlib import Path

import grpc
import onnx
import pytest

from stillmotion_trainer import PROTOCOL
from stillmotion_trainer.data.synthetic import generate_dataset
from stillmotion_trainer.gen import trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.grpc_server import start_server, status_of
from stillmotion_trainer.server.run_manager import RunError
from stillmotion_trainer.server.telemetry import TelemetryPublisher
from stillmotion_trainer.training.checkpoint import CheckpointError
from stillmotion_trainer.training.config import ConfigError

Code = grpc.StatusCode


def _config(dataset: Path, max_steps: int) -> str:
    return json.dumps(
        {
            "data": {"dataset": str(dataset), "size": 16, "clip_len": 4, "clips_per_video": 2,
                     "val_fraction": 0.25, "batch_size": 2, "num_workers": 0},
            "model": {"preset": "tiny"},
            "train": {"device": "cpu", "seed": 3},
            "val": {"every_n_steps": 2},
            "stop": {"max_steps": max_steps},
            "checkpoint": {"every_n_steps": 2, "keep_last": 2},
            "log": {"every_n_steps": 100, "preview_every_n_steps": 0},
        }
    )  # fmt: skip


@pytest.fixture()
def served(tmp_path):
    generate_dataset(tmp_path / "ds", "endoscopy", num_videos=4, num_frames=8, size=(16, 16))
    telemetry = TelemetryPublisher("tcp://127.0.0.1:0")
    server, port, runs = start_server("127.0.0.1:0", telemetry)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield trainer_pb2_grpc.TrainerStub(channel), runs, tmp_path
    channel.close()
    server.stop(grace=0)
    telemetry.close()


def _code(call, request) -> Code:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=60)
    return info.value.code()


def _run_in_background(runs) -> threading.Thread:  # type: ignore[no-untyped-def]
    """What serve's main thread does: run the queued run to its end."""
    worker = threading.Thread(target=runs.run_pending, args=(10,), daemon=True)
    worker.start()
    return worker


def test_every_rpc_over_one_run(served):
    stub, runs, tmp_path = served
    run_dir = tmp_path / "run"

    # Health, GetVersion and the calls that need a run, before there is one
    assert stub.Health(trainer_pb2.HealthRequest(), timeout=5).pid == os.getpid()
    assert stub.GetVersion(trainer_pb2.GetVersionRequest(), timeout=5).protocol == PROTOCOL
    idle = stub.GetStatus(trainer_pb2.GetStatusRequest(), timeout=5)
    assert idle.state == trainer_pb2.RunStatus.STATE_IDLE
    assert _code(stub.ListCheckpoints, trainer_pb2.ListCheckpointsRequest()) == Code.NOT_FOUND
    assert _code(stub.ExportOnnx, trainer_pb2.ExportOnnxRequest()) == Code.NOT_FOUND
    assert _code(stub.StopRun, trainer_pb2.StopRunRequest()) == Code.NOT_FOUND

    # StartRun, StreamEvents until a few steps and a best checkpoint are in, StopRun
    started = stub.StartRun(
        trainer_pb2.StartRunRequest(config_json=_config(tmp_path / "ds", 100000),
                                    run_dir=str(run_dir)),
        timeout=10,
    )  # fmt: skip
    assert started.run_id and started.start_step == 0 and started.run_dir == str(run_dir)
    worker = _run_in_background(runs)
    kinds, last_step, stop_sent, best_seen = [], 0, False, False
    stream = stub.StreamEvents(trainer_pb2.StreamEventsRequest(from_seq=1), timeout=120)
    for event in stream:
        kind = event.WhichOneof("kind")
        kinds.append(kind)
        last_step = event.step.step if kind == "step" else last_step
        best_seen = best_seen or (kind == "checkpoint" and event.checkpoint.is_best)
        if not stop_sent and last_step >= 4 and best_seen:
            stop = trainer_pb2.StopRunRequest(run_id=started.run_id)
            assert stub.StopRun(stop, timeout=5).accepted
            stop_sent = True
        if kind == "run_ended":
            assert event.run_ended.reason == "stop_requested"
            break
    stream.cancel()
    worker.join(60)
    assert kinds[0] == "run_started" and "validation" in kinds

    status = stub.GetStatus(trainer_pb2.GetStatusRequest(run_id=started.run_id), timeout=5)
    assert status.state == trainer_pb2.RunStatus.STATE_FINISHED
    assert status.end_reason == "stop_requested" and status.step >= 4
    assert math.isfinite(status.best_val_loss) and status.best_val_loss > 0
    stop = trainer_pb2.StopRunRequest(run_id=started.run_id)
    assert not stub.StopRun(stop, timeout=5).accepted  # already over
    assert _code(stub.StopRun, trainer_pb2.StopRunRequest(run_id="nope")) == Code.NOT_FOUND

    # ListCheckpoints: the step checkpoints, then best.pt with the run's best validation loss
    listed = stub.ListCheckpoints(trainer_pb2.ListCheckpointsRequest(), timeout=10).checkpoints
    steps = [c for c in listed if not c.is_best]
    assert [c.step for c in steps] == sorted(c.step for c in steps) and len(steps) == 2
    assert steps[-1].step == status.step
    (best,) = [c for c in listed if c.is_best]
    assert best.path == str(run_dir / "checkpoints" / "best.pt")
    assert best.val_loss == pytest.approx(status.best_val_loss)  # was always NaN

    # ExportOnnx: the default (best.pt to export/generator.onnx), then a relative out_path
    exported = stub.ExportOnnx(trainer_pb2.ExportOnnxRequest(), timeout=120)
    assert exported.path == str(run_dir / "export" / "generator.onnx")
    assert json.loads(exported.report_json)["step"] == best.step
    onnx.checker.check_model(onnx.load(exported.path))
    request = trainer_pb2.ExportOnnxRequest(
        checkpoint_path="checkpoints/" + Path(steps[0].path).name, out_path="export/early.onnx"
    )
    assert stub.ExportOnnx(request, timeout=120).path == str(
        run_dir.resolve() / "export/early.onnx"
    )

    # StartRun with resume: starts where the newest step checkpoint left off
    resumed = stub.StartRun(
        trainer_pb2.StartRunRequest(config_json=_config(tmp_path / "ds", 100000),
                                    run_dir=str(run_dir), resume=True),
        timeout=10,
    )  # fmt: skip
    assert resumed.start_step == steps[-1].step
    assert stub.StopRun(trainer_pb2.StopRunRequest(), timeout=5).accepted
    _run_in_background(runs).join(60)
    final = stub.GetStatus(trainer_pb2.GetStatusRequest(), timeout=5)
    assert final.state == trainer_pb2.RunStatus.STATE_FINISHED
    assert final.step == steps[-1].step + 1  # one step, then the stop request


def test_export_onnx_keeps_both_paths_inside_the_run_directory(served):
    stub, runs, tmp_path = served
    run_dir = tmp_path / "run"
    config = _config(tmp_path / "ds", 2)
    stub.StartRun(trainer_pb2.StartRunRequest(config_json=config, run_dir=str(run_dir)))
    _run_in_background(runs).join(120)
    outside = tmp_path / "outside"
    outside.mkdir()
    copied = shutil.copy(run_dir / "checkpoints" / "step-00000002.pt", outside / "c.pt")
    (run_dir / "escape").symlink_to(outside, target_is_directory=True)
    (run_dir / "checkpoints" / "link.pt").symlink_to(copied)

    def export(checkpoint_path: str = "", out_path: str = "") -> Code:
        request = trainer_pb2.ExportOnnxRequest(checkpoint_path=checkpoint_path, out_path=out_path)
        return _code(stub.ExportOnnx, request)

    assert export(out_path=str(outside / "m.onnx")) == Code.PERMISSION_DENIED
    assert export(out_path="../m.onnx") == Code.PERMISSION_DENIED
    assert export(out_path="escape/m.onnx") == Code.PERMISSION_DENIED  # a symlink out of it
    assert export(checkpoint_path=str(copied)) == Code.PERMISSION_DENIED
    assert export(checkpoint_path="checkpoints/link.pt") == Code.PERMISSION_DENIED
    assert export(out_path="export/m.txt") == Code.INVALID_ARGUMENT
    assert export(checkpoint_path="checkpoints/nope.pt") == Code.NOT_FOUND
    (run_dir / "checkpoints" / "torn.pt").write_bytes(b"PK\x03\x04 cut short")
    assert export(checkpoint_path="checkpoints/torn.pt") == Code.INVALID_ARGUMENT  # was UNKNOWN
    assert sorted(p.name for p in outside.iterdir()) == ["c.pt"]  # nothing written out there
    assert not (run_dir / "export").exists()


def test_status_of_maps_every_kind_of_error():
    assert status_of(RunError("FAILED_PRECONDITION", "busy")) == (
        Code.FAILED_PRECONDITION,
        "busy",
    )
    assert status_of(CheckpointError("c.pt", "truncated"))[0] == Code.INVALID_ARGUMENT
    assert status_of(CheckpointError("c.pt", "gone", code="NOT_FOUND"))[0] == Code.NOT_FOUND
    assert status_of(ConfigError(["train.lr: must be > 0"]))[0] == Code.INVALID_ARGUMENT
    missing = FileNotFoundError(errno.ENOENT, "No such file", "x.pt")
    assert status_of(missing)[0] == Code.NOT_FOUND
    assert status_of(PermissionError(errno.EACCES, "denied"))[0] == Code.PERMISSION_DENIED
    code, message = status_of(RuntimeError("onnx check failed\nline two"))
    assert code == Code.INTERNAL and message == "RuntimeError: onnx check failed; line two"
