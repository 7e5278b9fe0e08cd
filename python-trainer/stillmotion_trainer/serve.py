"""`serve`: run the gRPC control server and the ZeroMQ telemetry publisher until told to stop.

On start it prints exactly one JSON line to stdout so a parent process can find the ports:
    {"event": "listening", "grpc_port": 40123, "grpc_address": "127.0.0.1:40123",
     "telemetry_endpoint": "tcp://127.0.0.1:40124", "pid": 4242}
It stops on SIGTERM/SIGINT and when its parent process dies.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from stillmotion_trainer.runtime import configure_threads, die_with_parent
from stillmotion_trainer.server.grpc_server import start_server
from stillmotion_trainer.server.telemetry import TelemetryPublisher


def serve(address: str, telemetry_endpoint: str, heartbeat_s: float = 0.5) -> int:
    configure_threads()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    die_with_parent(stop.set)

    telemetry = TelemetryPublisher(telemetry_endpoint)
    server, port = start_server(address, telemetry)
    host = address.rsplit(":", 1)[0]
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
    while not stop.wait(heartbeat_s):
        telemetry.heartbeat(os.getpid(), time.monotonic() - started)

    server.stop(grace=1.0).wait()
    telemetry.close()
    return 0
