"""`serve`: run the gRPC control server and the ZeroMQ telemetry publisher until told to stop.

On start it prints exactly one JSON line to stdout so a parent process can find the ports:
    {"event": "listening", "grpc_port": 40123, "grpc_address": "127.0.0.1:40123",
     "telemetry_endpoint": "tcp://127.0.0.1:40124", "pid": 4242}
It stops on SIGTERM/SIGINT (an active run first finishes its step and checkpoints) and when
its parent process dies. Binding a non-loopback address requires a token.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import sys
import threading
import time
from typing import Optional

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.runtime import configure_threads, die_with_parent
from stillmotion_trainer.server.grpc_server import start_server
from stillmotion_trainer.server.telemetry import TelemetryPublisher


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServeError(StillMotionError, ValueError):
    """The server cannot start as asked (e.g. a non-loopback address without a token)."""

    code = "INVALID_ARGUMENT"


def serve(
    address: str,
    telemetry_endpoint: str,
    heartbeat_s: float = 0.5,
    token: Optional[str] = None,
) -> int:
    host = address.rsplit(":", 1)[0]
    telemetry_host = telemetry_endpoint.split("://", 1)[-1].rsplit(":", 1)[0]
    if not token and not (is_loopback(host) and is_loopback(telemetry_host)):
        raise ServeError(
            f"--address {address} / --telemetry {telemetry_endpoint}: binding beyond loopback "
            "requires --token (or STILLMOTION_TOKEN)"
        )
    configure_threads()
    stop = threading.Event()
    runs_ref: list = []

    def shutdown(*_: object) -> None:
        # Runs in the main thread between bytecodes, even mid-training: the active run then
        # finishes its step, checkpoints and returns; the loop below sees `stop` and exits.
        stop.set()
        if runs_ref:
            runs_ref[0].request_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, shutdown)
    die_with_parent(shutdown)

    telemetry = TelemetryPublisher(telemetry_endpoint)
    server, port, runs = start_server(address, telemetry, token=token)
    runs_ref.append(runs)
    line = {
        "event": "listening",
        "grpc_port": port,
        "grpc_address": f"{host}:{port}",
        "telemetry_endpoint": telemetry.endpoint,
        "pid": os.getpid(),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()

    started = time.monotonic()

    def beat() -> None:
        while not stop.wait(heartbeat_s):
            step = runs.run.sink.step if runs.run is not None else 0
            telemetry.heartbeat(os.getpid(), time.monotonic() - started, step)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    # The main thread trains (see server/run_manager.py for why); between runs it waits.
    while not stop.is_set():
        runs.run_pending(timeout_s=0.2)

    server.stop(grace=1.0).wait()
    telemetry.close()
    return 0
