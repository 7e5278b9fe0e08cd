"""The trainer's network surface: gRPC control (grpc_server) and ZeroMQ telemetry (telemetry),
run together by the server process (process.py, the `serve` command)."""
