"""gRPC control server. The only module of the trainer that imports grpc.

A thin shell: each RPC validates its request and calls the library; no training logic here.
"""

from __future__ import annotations

import os
import platform
import time
from concurrent import futures

import grpc
import torch

from stillmotion_trainer import PROTOCOL, __version__
from stillmotion_trainer.gen import trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.telemetry import TelemetryPublisher


class TrainerService(trainer_pb2_grpc.TrainerServicer):
    def __init__(self, telemetry: TelemetryPublisher) -> None:
        self._telemetry = telemetry
        self._started = time.monotonic()

    def Health(self, request, context):  # noqa: N802 (gRPC method name)
        return trainer_pb2.HealthResponse(
            status=trainer_pb2.HealthResponse.SERVING_STATUS_SERVING,
            telemetry_endpoint=self._telemetry.endpoint,
            pid=os.getpid(),
            uptime_s=time.monotonic() - self._started,
        )

    def GetVersion(self, request, context):  # noqa: N802
        return trainer_pb2.GetVersionResponse(
            trainer_version=__version__,
            protocol=PROTOCOL,
            python_version=platform.python_version(),
            torch_version=torch.__version__,
            device="cuda" if torch.cuda.is_available() else "cpu",
        )


def start_server(address: str, telemetry: TelemetryPublisher) -> tuple[grpc.Server, int]:
    """Start serving on `address` ("127.0.0.1:0" picks a port); return the server and port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trainer_pb2_grpc.add_TrainerServicer_to_server(TrainerService(telemetry), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind gRPC address {address!r}")
    server.start()
    return server, port
