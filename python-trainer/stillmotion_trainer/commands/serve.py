"""serve: gRPC control + ZeroMQ telemetry until SIGTERM or the parent dies.

Secrets come from the environment only, never argv (any local user can read /proc/<pid>/cmdline;
environ is the owner's): STILLMOTION_TOKEN (the gRPC bearer token) and
STILLMOTION_TELEMETRY_CLIENT_KEY (the one CURVE subscriber admitted). Both are removed from the
environment once read, so that nothing this process starts inherits them.
"""

import argparse

HELP = "serve gRPC control and ZeroMQ telemetry"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", default="127.0.0.1:0", help="gRPC bind address (port 0 = any)")
    p.add_argument("--telemetry", default="tcp://127.0.0.1:0", help="ZeroMQ PUB endpoint")
    p.add_argument("--heartbeat-s", type=float, default=0.5)


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from stillmotion_trainer.errors import StillMotionError
    from stillmotion_trainer.server.process import serve

    token = os.environ.pop("STILLMOTION_TOKEN", "") or None
    client_key = os.environ.pop("STILLMOTION_TELEMETRY_CLIENT_KEY", "") or None
    try:
        return serve(
            args.address,
            args.telemetry,
            args.heartbeat_s,
            token=token,
            telemetry_client_key=client_key,
        )
    except StillMotionError as e:  # ServeError, TelemetrySecurityError: refused before listening
        print(f"serve: {e.code}: {e}", file=sys.stderr)
        return 2
