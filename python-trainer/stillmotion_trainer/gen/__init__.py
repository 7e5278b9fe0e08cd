"""Generated protobuf/gRPC code (tools/codegen/generate.sh). Never edit files below this folder.

protoc's Python output imports its siblings as the top-level package `stillmotion.trainer.v1`,
so this folder is put on sys.path once, here, before anything imports the stubs.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from stillmotion.trainer.v1 import telemetry_pb2, trainer_pb2, trainer_pb2_grpc  # noqa: E402

__all__ = ["trainer_pb2", "trainer_pb2_grpc", "telemetry_pb2"]
