"""The trainer's network surface: gRPC control (grpc_server) and ZeroMQ telemetry (telemetry)."""
