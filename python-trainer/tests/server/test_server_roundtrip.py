"""The trainer's control server and telemetry, in-process: real gRPC and ZeroMQ sockets."""

import time

import grpc
import zmq

from stillmotion_trainer import PROTOCOL
from stillmotion_trainer.gen import telemetry_pb2, trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.grpc_server import start_server
from stillmotion_trainer.server.telemetry import TelemetryPublisher


def test_health_and_version_over_grpc_and_heartbeat_over_zmq():
    telemetry = TelemetryPublisher("tcp://127.0.0.1:0")
    server, port = start_server("127.0.0.1:0", telemetry)
    sub = zmq.Context.instance().socket(zmq.SUB)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = trainer_pb2_grpc.TrainerStub(channel)
            health = stub.Health(trainer_pb2.HealthRequest(), timeout=5)
            assert health.status == trainer_pb2.HealthResponse.SERVING_STATUS_SERVING
            assert health.telemetry_endpoint == telemetry.endpoint
            assert stub.GetVersion(trainer_pb2.GetVersionRequest(), timeout=5).protocol == PROTOCOL

        sub.connect(telemetry.endpoint)
        sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat")
        sub.setsockopt(zmq.RCVTIMEO, 200)
        deadline = time.monotonic() + 5
        while True:  # PUB/SUB drops messages until the subscription has propagated
            seq = telemetry.heartbeat(pid=1, uptime_s=0.0)
            try:
                topic, body = sub.recv_multipart()
                break
            except zmq.Again:
                assert time.monotonic() < deadline, "no heartbeat received"
        event = telemetry_pb2.TelemetryEvent.FromString(body)
        assert topic == b"heartbeat"
        assert event.WhichOneof("kind") == "heartbeat"
        assert 1 <= event.seq <= seq
    finally:
        sub.close(linger=0)
        server.stop(grace=0)
        telemetry.close()
