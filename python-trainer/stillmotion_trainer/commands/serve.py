"""serve: gRPC control + ZeroMQ telemetry until SIGTERM or the parent dies."""

HELP = "serve gRPC control and ZeroMQ telemetry"


def add_arguments(p):
    p.add_argument("--address", default="127.0.0.1:0", help="gRPC bind address (port 0 = any)")
    p.add_argument("--telemetry", default="tcp://127.0.0.1:0", help="ZeroMQ PUB endpoint")
    p.add_argument("--heartbeat-s", type=float, default=0.5)


def run(args) -> int:
    from stillmotion_trainer.serve import serve

    return serve(args.address, args.telemetry, args.heartbeat_s)
