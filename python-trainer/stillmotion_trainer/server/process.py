"""The trainer's server process (`serve` command): gRPC control and ZeroMQ telemetry until
told to stop; its main thread runs the queued training runs.

On start it prints exactly one JSON line to stdout so a parent process can find the ports:
    {"event": "listening", "grpc_port": 40123, "grpc_address": "127.0.0.1:40123",
     "telemetry_endpoint": "tcp://127.0.0.1:40124", "telemetry_server_key": null, "pid": 4242}
It stops on SIGTERM/SIGINT (an active run first finishes its step and checkpoints) and when
its parent process dies.

Who may talk to it (docs/architecture.md, "Security"):
- gRPC: with a token (STILLMOTION_TOKEN, from the environment only: argv is world-readable in
  /proc), every call must carry `authorization: Bearer <token>`; the orchestrator always sets
  one. Binding a non-loopback address without a token is refused.
- Telemetry beyond loopback is ZeroMQ CURVE: encrypted, and only the subscriber whose public key
  is in STILLMOTION_TELEMETRY_CLIENT_KEY is admitted; our public key goes out in
  `telemetry_server_key`. On loopback it is plain unless a subscriber key is given: another
  user of this machine can then read (never steer) the telemetry — metrics and preview frames.
  We accept that for loopback because the harm lies in the control plane, which the token
  closes, and the preview frames are already readable by that user wherever the run directory
  is; a shared machine with untrusted users should set STILLMOTION_TELEMETRY_CURVE=1 on the CLI.
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
    """True for names that can only mean this machine: localhost, 127.0.0.0/8, ::1."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def telemetry_beyond_loopback(endpoint: str) -> bool:
    """True when a ZeroMQ endpoint can be reached from another machine.

    tcp:// is local only on a loopback host (`*` and 0.0.0.0 are every interface); ipc:// and
    inproc:// never leave the machine (an ipc socket file has the folder's permissions).
    """
    transport, _, rest = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return False
    return not is_loopback(rest.rsplit(":", 1)[0])


class ServeError(StillMotionError, ValueError):
    """The server cannot start as asked (e.g. a non-loopback address without a token)."""

    code = "INVALID_ARGUMENT"


def serve(
    address: str,
    telemetry_endpoint: str,
    heartbeat_s: float = 0.5,
    token: Optional[str] = None,
    telemetry_client_key: Optional[str] = None,
) -> int:
    host = address.rsplit(":", 1)[0]
    beyond = telemetry_beyond_loopback(telemetry_endpoint)
    if not token and not (is_loopback(host) and not beyond):
        raise ServeError(
            f"--address {address} / --telemetry {telemetry_endpoint}: binding beyond loopback "
            "requires a token in the environment (STILLMOTION_TOKEN)"
        )
    if beyond and not telemetry_client_key:
        raise ServeError(
            f"--telemetry {telemetry_endpoint}: telemetry beyond loopback is ZeroMQ CURVE and "
            "needs the subscriber's public key in STILLMOTION_TELEMETRY_CLIENT_KEY"
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

    # CURVE whenever a subscriber key is given (always beyond loopback, see the module docstring).
    telemetry = TelemetryPublisher(telemetry_endpoint, curve_client_key=telemetry_client_key)
    server, port, runs = start_server(address, telemetry, token=token)
    runs_ref.append(runs)
    line = {
        "event": "listening",
        "grpc_port": port,
        "grpc_address": f"{host}:{port}",
        "telemetry_endpoint": telemetry.endpoint,
        "telemetry_server_key": telemetry.server_public_key,
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
