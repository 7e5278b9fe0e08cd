"""Who may steer and who may listen (issue N, point 5), with real servers and sockets.

- The served trainer, started as the orchestrator starts it (token in the environment, never in
  argv): a client that knows only the port gets UNAUTHENTICATED from StopRun, ExportOnnx and
  ListCheckpoints; with the token the calls get through.
- Telemetry beyond loopback is a ZeroMQ CURVE server admitting one subscriber key: the right
  subscriber hears it; a wrong server key, an unknown client key or a plain socket hear nothing.
- What `serve` refuses before it listens, and the messages it gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import zmq

from stillmotion_trainer.gen import telemetry_pb2, trainer_pb2, trainer_pb2_grpc
from stillmotion_trainer.server.process import ServeError, serve, telemetry_beyond_loopback
from stillmotion_trainer.server.telemetry import (
    TelemetryPublisher,
    TelemetrySecurityError,
    require_curve,
)

PYTHON_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "per-run-token-for-this-test-0123456789"


@pytest.fixture()
def served_with_token():
    """`python -m stillmotion_trainer serve` with STILLMOTION_TOKEN set, as the CLI spawns it."""
    env = {**os.environ, "STILLMOTION_TOKEN": TOKEN, "STILLMOTION_THREADS": "1"}
    cmd = [sys.executable, "-m", "stillmotion_trainer", "serve", "--heartbeat-s", "5"]
    proc = subprocess.Popen(cmd, cwd=PYTHON_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        assert line["event"] == "listening", line
        yield proc, line
    finally:
        proc.terminate()
        proc.wait(10)


def _code(call, request, metadata=()) -> grpc.StatusCode:
    try:
        call(request, metadata=metadata, timeout=10)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def test_a_client_that_knows_only_the_port_cannot_stop_export_or_list(served_with_token):
    proc, line = served_with_token
    assert TOKEN not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
    assert line["telemetry_server_key"] is None  # loopback telemetry stays plain
    calls = [
        ("StopRun", trainer_pb2.StopRunRequest()),
        ("ExportOnnx", trainer_pb2.ExportOnnxRequest(out_path="/tmp/anywhere.onnx")),
        ("ListCheckpoints", trainer_pb2.ListCheckpointsRequest()),
    ]
    with grpc.insecure_channel(line["grpc_address"]) as channel:
        stub = trainer_pb2_grpc.TrainerStub(channel)
        for name, request in calls:
            method = getattr(stub, name)
            for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)):
                assert _code(method, request, metadata) == grpc.StatusCode.UNAUTHENTICATED, name
        # With the token every call reaches the service, which answers NOT_FOUND (no run has
        # been started): the interceptor let it through.
        good = (("authorization", f"Bearer {TOKEN}"),)
        for name, request in calls:
            assert _code(getattr(stub, name), request, good) == grpc.StatusCode.NOT_FOUND, name


def _published_until(publisher: TelemetryPublisher, sub: zmq.Socket, seconds: float) -> list:
    """Publish a step event every 50 ms for up to `seconds`; return what `sub` received."""
    got = []
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline and not got:
        step += 1
        event = telemetry_pb2.TelemetryEvent(step=telemetry_pb2.StepMetrics(step=step))
        publisher.publish("step", event)
        try:
            got.append(sub.recv_multipart())
        except zmq.Again:
            pass
    return got


def _subscriber(ctx: zmq.Context, endpoint: str, server_key=None, client=None) -> zmq.Socket:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVTIMEO, 50)
    if server_key is not None:
        public, secret = client
        sub.curve_serverkey, sub.curve_publickey, sub.curve_secretkey = server_key, public, secret
    sub.connect(endpoint.replace("0.0.0.0", "127.0.0.1"))
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    return sub


def test_curve_telemetry_beyond_loopback_reaches_only_the_admitted_subscriber():
    client = zmq.curve_keypair()
    publisher = TelemetryPublisher("tcp://0.0.0.0:0", curve_client_key=client[0].decode())
    ctx = zmq.Context()
    try:
        server_key = publisher.server_public_key.encode()
        wrong_server_key, _ = zmq.curve_keypair()
        strangers = {
            "wrong server key": _subscriber(ctx, publisher.endpoint, wrong_server_key, client),
            "unknown client key": _subscriber(
                ctx, publisher.endpoint, server_key, zmq.curve_keypair()
            ),
            "plain socket": _subscriber(ctx, publisher.endpoint),
        }
        admitted = _subscriber(ctx, publisher.endpoint, server_key, client)
        received = _published_until(publisher, admitted, 10.0)
        assert received and received[0][0] == b"step"
        assert telemetry_pb2.TelemetryEvent.FromString(received[0][1]).step.step >= 1
        for why, sub in strangers.items():  # by now their handshakes have long failed
            assert _published_until(publisher, sub, 1.0) == [], why
    finally:
        for sock in [*strangers.values(), admitted]:
            sock.close(linger=0)
        ctx.term()
        publisher.close()


def test_serve_refuses_telemetry_beyond_loopback_without_a_subscriber_key():
    with pytest.raises(ServeError, match="STILLMOTION_TELEMETRY_CLIENT_KEY"):
        serve("127.0.0.1:0", "tcp://0.0.0.0:0", token=TOKEN)


def test_serve_refuses_grpc_or_telemetry_beyond_loopback_without_a_token():
    for address, endpoint in (("0.0.0.0:0", "tcp://127.0.0.1:0"), ("127.0.0.1:0", "tcp://*:0")):
        with pytest.raises(ServeError, match="requires a token in the environment"):
            serve(address, endpoint, telemetry_client_key=zmq.curve_keypair()[0].decode())


def test_which_telemetry_endpoints_are_beyond_loopback():
    assert not telemetry_beyond_loopback("tcp://127.0.0.1:0")
    assert not telemetry_beyond_loopback("tcp://[::1]:5555")
    assert not telemetry_beyond_loopback("ipc:///tmp/stillmotion.sock")
    assert telemetry_beyond_loopback("tcp://0.0.0.0:0")
    assert telemetry_beyond_loopback("tcp://*:0")
    assert telemetry_beyond_loopback("tcp://10.0.0.7:5555")


def test_a_libzmq_without_curve_is_named_in_the_error():
    require_curve(True)
    with pytest.raises(TelemetrySecurityError, match=r"was built without it \(zmq.has\('curve'\)"):
        require_curve(False)
    assert TelemetrySecurityError.code == "FAILED_PRECONDITION"


def test_a_malformed_subscriber_key_is_refused_naming_the_variable():
    for key in ("short", "x" * 39 + "\u00e9", "~" * 40):
        with pytest.raises(TelemetrySecurityError, match="STILLMOTION_TELEMETRY_CLIENT_KEY"):
            TelemetryPublisher("tcp://0.0.0.0:0", curve_client_key=key)


def test_the_serve_command_prints_one_line_for_a_refusal():
    env = {**os.environ, "STILLMOTION_THREADS": "1"}
    env.pop("STILLMOTION_TOKEN", None)
    cmd = [sys.executable, "-m", "stillmotion_trainer", "serve", "--address", "0.0.0.0:0"]
    out = subprocess.run(cmd, cwd=PYTHON_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "serve: INVALID_ARGUMENT: --address 0.0.0.0:0 / --telemetry tcp://127.0.0.1:0: binding "
        "beyond loopback requires a token in the environment (STILLMOTION_TOKEN)"
    ]
