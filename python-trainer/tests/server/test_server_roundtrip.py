"""The trainer's control server and telemetry, in-process: real gRPC and ZeroMQ sockets."""

import threading
import time

import grpc
import pytest
import zmq

from stillmotion_trainer import PROTOCOL
from stillmotion_trainer.gen import telemetry_pb2, trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.grpc_server import start_server
from stillmotion_trainer.server.telemetry import EventHistory, TelemetryPublisher
from stillmotion_trainer.server.process import ServeError, is_loopback, serve


@pytest.fixture()
def server():
    telemetry = TelemetryPublisher("tcp://127.0.0.1:0")
    srv, port, runs = start_server("127.0.0.1:0", telemetry, token=None)
    yield telemetry, port, runs
    srv.stop(grace=0)
    telemetry.close()


def _step_event(step: int) -> telemetry_pb2.TelemetryEvent:
    return telemetry_pb2.TelemetryEvent(
        step=telemetry_pb2.StepMetrics(step=step, scalars={"total": 1.0 / step})
    )


def test_health_and_version_over_grpc_and_sequenced_events_over_zmq(server):
    telemetry, port, _ = server
    sub = zmq.Context.instance().socket(zmq.SUB)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = trainer_pb2_grpc.TrainerStub(channel)
            health = stub.Health(trainer_pb2.HealthRequest(), timeout=5)
            assert health.status == trainer_pb2.HealthResponse.SERVING_STATUS_SERVING
            assert health.telemetry_endpoint == telemetry.endpoint
            assert stub.GetVersion(trainer_pb2.GetVersionRequest(), timeout=5).protocol == PROTOCOL

        sub.connect(telemetry.endpoint)
        sub.setsockopt(zmq.SUBSCRIBE, b"step")
        sub.setsockopt(zmq.RCVTIMEO, 200)
        deadline = time.monotonic() + 5
        step = 0
        while True:  # PUB/SUB drops messages until the subscription has propagated
            step += 1
            seq = telemetry.publish("step", _step_event(step))
            try:
                topic, body = sub.recv_multipart()
                break
            except zmq.Again:
                assert time.monotonic() < deadline, "no telemetry received"
        event = telemetry_pb2.TelemetryEvent.FromString(body)
        assert topic == b"step"
        assert event.WhichOneof("kind") == "step"
        assert event.seq == seq == step  # sequenced from 1 without holes
    finally:
        sub.close(linger=0)


def test_heartbeats_do_not_consume_sequence_numbers(server):
    telemetry, _, _ = server
    assert telemetry.publish("step", _step_event(1)) == 1
    assert telemetry.heartbeat(pid=1, uptime_s=0.0) == 1
    assert telemetry.publish("step", _step_event(2)) == 2
    assert [e.seq for e in telemetry.history._events] == [1, 2]


def test_history_replays_from_a_sequence_number_then_follows_live():
    history = EventHistory()
    publisher_events = [_step_event(i) for i in range(1, 6)]
    for i, e in enumerate(publisher_events, start=1):
        e.seq = i
        history.append(e)
    stop = threading.Event()
    got = []

    def consume():
        for e in history.follow(3, until=stop):
            got.append(e.seq)
            if e.seq == 7:
                stop.set()

    t = threading.Thread(target=consume)
    t.start()
    for seq in (6, 7):
        e = _step_event(seq)
        e.seq = seq
        history.append(e)
    t.join(5)
    assert got == [3, 4, 5, 6, 7]


def test_stream_events_without_a_run_is_not_found(server):
    _, port, _ = server
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = trainer_pb2_grpc.TrainerStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.StreamEvents(trainer_pb2.StreamEventsRequest(from_seq=1), timeout=5))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_start_run_with_a_bad_field_is_invalid_argument_naming_the_field(server):
    _, port, _ = server
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = trainer_pb2_grpc.TrainerStub(channel)
        bad = '{"data": {"dataset": "x"}, "train": {"lr": -1}}'
        with pytest.raises(grpc.RpcError) as info:
            stub.StartRun(trainer_pb2.StartRunRequest(config_json=bad), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "train.lr" in info.value.details()
        with pytest.raises(grpc.RpcError) as info:
            stub.StartRun(trainer_pb2.StartRunRequest(config_json="{not json"), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_token_is_required_when_set_and_a_wrong_one_is_unauthenticated():
    telemetry = TelemetryPublisher("tcp://127.0.0.1:0")
    srv, port, _ = start_server("127.0.0.1:0", telemetry, token="s3cret")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = trainer_pb2_grpc.TrainerStub(channel)
            for metadata in ((), (("authorization", "Bearer wrong"),)):
                with pytest.raises(grpc.RpcError) as info:
                    stub.Health(trainer_pb2.HealthRequest(), metadata=metadata, timeout=5)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            ok = stub.Health(
                trainer_pb2.HealthRequest(),
                metadata=(("authorization", "Bearer s3cret"),),
                timeout=5,
            )
            assert ok.pid > 0
    finally:
        srv.stop(grace=0)
        telemetry.close()


def test_binding_beyond_loopback_without_a_token_is_refused():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0")
    with pytest.raises(ServeError, match="requires a token in the environment"):
        serve("0.0.0.0:0", "tcp://127.0.0.1:0")
