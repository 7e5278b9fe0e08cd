"""gRPC control server. The only module of the trainer that imports grpc.

A thin shell: each RPC converts its request and calls RunManager; any exception it raises
reaches the client through `status_of`, the one mapping from Python errors to gRPC status
codes. Authentication is a bearer token checked by an interceptor.
"""

from __future__ import annotations

import functools
import hmac
import json
import math
import os
import platform
import threading
import time
from concurrent import futures
from typing import Any, Callable, Iterator, Optional

import grpc
import torch

from stillmotion_trainer import PROTOCOL, __version__, allocator
from stillmotion_trainer.errors import error_code, error_message
from stillmotion_trainer.gen import trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.run_manager import RunError, RunManager
from stillmotion_trainer.server.telemetry import TelemetryPublisher

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
Message = Any  # a protobuf message: the generated code (gen/) comes without type stubs
_STATES = {
    "IDLE": trainer_pb2.RunStatus.STATE_IDLE,
    "RUNNING": trainer_pb2.RunStatus.STATE_RUNNING,
    "STOPPING": trainer_pb2.RunStatus.STATE_STOPPING,
    "FINISHED": trainer_pb2.RunStatus.STATE_FINISHED,
    "FAILED": trainer_pb2.RunStatus.STATE_FAILED,
}


def status_of(err: BaseException) -> tuple[grpc.StatusCode, str]:
    """(gRPC status, one-line message) for any exception an RPC raises.

    The trainer's typed errors (StillMotionError: RunError, CheckpointError, ConfigError,
    DatasetError, ...) carry their status in `code`, and OSErrors map by errno
    (`errors.error_code`); besides those, a ValueError or TypeError is a bad argument. The rest
    (an ExportError whose graph failed a check, a torch RuntimeError) is INTERNAL with its type
    named, so no error reaches a client as UNKNOWN.
    """
    name = error_code(err)
    if name == "INTERNAL" and isinstance(err, (ValueError, TypeError)):
        name = "INVALID_ARGUMENT"
    return getattr(grpc.StatusCode, name, grpc.StatusCode.INTERNAL), error_message(err)


def _abort(context: grpc.ServicerContext, err: BaseException) -> None:
    code, message = status_of(err)
    context.abort(code, message)


def _unary(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run a unary RPC; whatever it raises is aborted with `status_of`'s status."""

    @functools.wraps(method)
    def call(self: "TrainerService", request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as err:  # every error becomes a status, never UNKNOWN
            _abort(context, err)

    return call


def _streaming(method: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """The same for a server-streaming RPC (errors before or between messages)."""

    @functools.wraps(method)
    def call(self: "TrainerService", request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from method(self, request, context)
        except Exception as err:
            _abort(context, err)

    return call


class TrainerService(trainer_pb2_grpc.TrainerServicer):
    def __init__(self, telemetry: TelemetryPublisher, runs: RunManager) -> None:
        self._telemetry = telemetry
        self._runs = runs
        self._started = time.monotonic()

    @_unary
    def Health(
        self, request: Message, context: grpc.ServicerContext
    ) -> Message:  # noqa: N802 (gRPC method names)
        return trainer_pb2.HealthResponse(
            status=trainer_pb2.HealthResponse.SERVING_STATUS_SERVING,
            telemetry_endpoint=self._telemetry.endpoint,
            pid=os.getpid(),
            uptime_s=time.monotonic() - self._started,
        )

    @_unary
    def GetVersion(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802
        return trainer_pb2.GetVersionResponse(
            trainer_version=__version__,
            protocol=PROTOCOL,
            python_version=platform.python_version(),
            torch_version=torch.__version__,
            device="cuda" if torch.cuda.is_available() else "cpu",
            allocator=allocator.active(),
        )

    @_unary
    def StartRun(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802
        run = self._runs.start(request.config_json, request.run_dir, request.resume)
        return trainer_pb2.StartRunResponse(
            run_id=run.run_id, run_dir=str(run.run_dir), start_step=run.start_step
        )

    @_unary
    def StopRun(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802
        return trainer_pb2.StopRunResponse(accepted=self._runs.stop(request.run_id))

    @_unary
    def GetStatus(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802
        s = self._runs.status(request.run_id)
        best = s.get("best_val_loss", float("nan"))
        return trainer_pb2.RunStatus(
            run_id=s.get("run_id", ""),
            state=_STATES[s["state"]],
            step=s.get("step", 0),
            epoch=s.get("epoch", 0),
            last_metrics=s.get("last_metrics", {}),
            best_val_loss=best if math.isfinite(best) else 0.0,
            end_reason=s.get("end_reason", ""),
            error=s.get("error", ""),
            last_seq=s.get("last_seq", 0),
            run_dir=s.get("run_dir", ""),
        )

    @_unary
    def ListCheckpoints(
        self, request: Message, context: grpc.ServicerContext
    ) -> Message:  # noqa: N802
        items = self._runs.checkpoints(request.run_id)
        return trainer_pb2.ListCheckpointsResponse(
            checkpoints=[trainer_pb2.CheckpointInfo(**item) for item in items]
        )

    @_unary
    def ExportOnnx(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802
        out = self._runs.export(request.run_id, request.checkpoint_path, request.out_path)
        return trainer_pb2.ExportOnnxResponse(
            path=out["path"], report_json=json.dumps(out["report"], default=str)
        )

    @_streaming
    def StreamEvents(  # noqa: N802
        self, request: Message, context: grpc.ServicerContext
    ) -> Iterator[Message]:
        if self._runs.run is None:
            raise RunError("NOT_FOUND", "no run has been started on this trainer")
        gone = threading.Event()
        context.add_callback(gone.set)
        yield from self._telemetry.history.follow(request.from_seq, until=gone)


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects every call whose metadata lacks `authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

        def deny(request: Message, context: grpc.ServicerContext) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = str(metadata.get("authorization", "")).encode()
        if hmac.compare_digest(given, self._expected):
            return continuation(handler_call_details)
        streaming = handler_call_details.method.endswith("/StreamEvents")
        return self._deny_stream if streaming else self._deny_unary


def start_server(
    address: str,
    telemetry: TelemetryPublisher,
    runs: Optional[RunManager] = None,
    token: Optional[str] = None,
) -> tuple[grpc.Server, int, RunManager]:
    """Start serving on `address` ("127.0.0.1:0" picks a port); return server, port, runs."""
    runs = runs or RunManager(telemetry)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        interceptors=[TokenInterceptor(token)] if token else [],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    trainer_pb2_grpc.add_TrainerServicer_to_server(TrainerService(telemetry, runs), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind gRPC address {address!r}")
    server.start()
    return server, port, runs
