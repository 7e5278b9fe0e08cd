"""ZeroMQ PUB telemetry. The only module of the trainer that imports zmq.

Wire format (proto/stillmotion/trainer/v1/telemetry.proto): multipart [topic, TelemetryEvent,
*binary payloads]. Sequence numbers start at 1 and grow by one per event so that subscribers
can detect gaps.
"""

from __future__ import annotations

import threading
import time

import zmq

from stillmotion_trainer.gen import telemetry_pb2


class TelemetryPublisher:
    """Thread-safe publisher bound to `endpoint` ("tcp://127.0.0.1:0" picks a free port)."""

    def __init__(self, endpoint: str = "tcp://127.0.0.1:0") -> None:
        self._ctx = zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDHWM, 10_000)
        self._sock.bind(endpoint)
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._lock = threading.Lock()
        self._seq = 0

    def publish(self, topic: str, event: telemetry_pb2.TelemetryEvent, *payloads: bytes) -> int:
        """Stamp `event` with the next sequence number and time, send it, return the seq."""
        with self._lock:
            self._seq += 1
            event.seq = self._seq
            event.time_unix_s = time.time()
            self._sock.send_multipart([topic.encode(), event.SerializeToString(), *payloads])
            return self._seq

    def heartbeat(self, pid: int, uptime_s: float) -> int:
        event = telemetry_pb2.TelemetryEvent(
            heartbeat=telemetry_pb2.Heartbeat(pid=pid, uptime_s=uptime_s)
        )
        return self.publish("heartbeat", event)

    def close(self) -> None:
        with self._lock:
            self._sock.close(linger=0)
