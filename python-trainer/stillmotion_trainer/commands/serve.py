"""serve: gRPC control + ZeroMQ telemetry until SIGTERM or the parent dies."""

HELP = "serve gRPC control and ZeroMQ telemetry"


def add_arguments(p):
    p.add_argument("--address", default="127.0.0.1:0", help="gRPC bind address (port 0 = any)")
    p.add_argument("--telemetry", default="tcp://127.0.0.1:0", help="ZeroMQ PUB endpoint")
    p.add_argument("--heartbeat-s", type=float, default=0.5)
    p.add_argument(
        "--token",
        default=None,
        help="bearer token clients must send; required beyond loopback (env STILLMOTION_TOKEN)",
    )


def run(args) -> int:
    import os
    import sys

    from stillmotion_trainer.serve import ServeError, serve

    try:
        token = args.token or os.environ.get("STILLMOTION_TOKEN") or None
        return serve(args.address, args.telemetry, args.heartbeat_s, token=token)
    except ServeError as e:
        print(f"serve: {e}", file=sys.stderr)
        return 2
