"""ZeroMQ PUB telemetry and the in-memory event history. The only module that imports zmq.

Wire format (proto/stillmotion/trainer/v1/telemetry.proto): multipart [topic, TelemetryEvent,
*binary payloads]. Sequenced events (everything a run reports) get seq = 1, 2, 3, ... so that
subscribers can detect gaps; heartbeats are unsequenced and repeat the last seq, so a replay
from the history (which holds no heartbeats) has no holes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterator, Optional

import zmq

from stillmotion_trainer.gen import telemetry_pb2

# The generated class telemetry_pb2.TelemetryEvent; protoc's Python output has no type stubs.
TelemetryEvent = Any


class EventHistory:
    """Every sequenced event of this process, for StreamEvents re-attach.

    Preview tensors are the only large events; only the last `keep_previews` keep their bytes.
    """

    def __init__(self, keep_previews: int = 16) -> None:
        self._events: list[TelemetryEvent] = []
        self._cond = threading.Condition()
        self._keep_previews = keep_previews
        self._preview_idx: list[int] = []
        self.closed = False

    def append(self, event: TelemetryEvent) -> None:
        with self._cond:
            self._events.append(event)
            if event.WhichOneof("kind") == "preview":
                self._preview_idx.append(len(self._events) - 1)
                if len(self._preview_idx) > self._keep_previews:
                    old = self._events[self._preview_idx.pop(0)]
                    old.preview.images = b""
                    old.preview.masks = b""
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def follow(
        self, from_seq: int, until: threading.Event, poll_s: float = 0.25
    ) -> Iterator[TelemetryEvent]:
        """Events with seq >= from_seq, then new ones as they come, until a run_ended event
        has been delivered, the history is closed, or `until` is set."""
        index = 0
        while not until.is_set():
            with self._cond:
                while index < len(self._events) and self._events[index].seq < from_seq:
                    index += 1
                batch = self._events[index:]
                if not batch:
                    if self.closed:
                        return
                    self._cond.wait(poll_s)
                    continue
            for event in batch:
                yield event
                if event.WhichOneof("kind") == "run_ended":
                    return
            index += len(batch)

    @property
    def last_seq(self) -> int:
        with self._cond:
            return self._events[-1].seq if self._events else 0


class TelemetryPublisher:
    """Thread-safe publisher bound to `endpoint` ("tcp://127.0.0.1:0" picks a free port)."""

    def __init__(self, endpoint: str = "tcp://127.0.0.1:0", history: Optional[EventHistory] = None):
        self._ctx = zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        # A slow subscriber must never block training: PUB drops beyond the high-water mark, and
        # the subscriber back-fills the gap from StreamEvents / metrics.jsonl.
        hwm = int(os.environ.get("STILLMOTION_TELEMETRY_HWM", "10000"))
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        # Kernel send buffer (bytes; 0 = the OS default). Tests shrink it so that a stalled
        # subscriber really makes PUB drop instead of the kernel queueing the whole run.
        sndbuf = int(os.environ.get("STILLMOTION_TELEMETRY_SNDBUF", "0"))
        if sndbuf > 0:
            self._sock.setsockopt(zmq.SNDBUF, sndbuf)
        self._sock.bind(endpoint)
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.history = history or EventHistory()
        self._lock = threading.Lock()
        self._seq = 0

    def publish(
        self,
        topic: str,
        event: TelemetryEvent,
        *payloads: bytes,
        sequenced: bool = True,
        wire_event: Optional[TelemetryEvent] = None,
    ) -> int:
        """Stamp `event` with a sequence number and time, send it, record it; return the seq.

        `wire_event`, when given, is what goes over ZeroMQ instead of `event` (same stamp): a
        preview sends its tensors as raw payload frames, not inside the protobuf twice.
        Unsequenced events (heartbeats) carry the last seq, so a subscriber that missed the
        tail of a run learns how far to back-fill.
        """
        with self._lock:
            if sequenced:
                self._seq += 1
            event.seq = self._seq
            event.time_unix_s = time.time()
            if sequenced:
                self.history.append(event)
            wire = wire_event if wire_event is not None else event
            wire.seq, wire.time_unix_s = event.seq, event.time_unix_s
            try:
                self._sock.send_multipart(
                    [topic.encode(), wire.SerializeToString(), *payloads], flags=zmq.NOBLOCK
                )
            except zmq.Again:
                pass  # dropped for ZeroMQ subscribers; still in the history
            return self._seq

    def heartbeat(self, pid: int, uptime_s: float, step: int = 0) -> int:
        event = telemetry_pb2.TelemetryEvent(
            heartbeat=telemetry_pb2.Heartbeat(pid=pid, uptime_s=uptime_s, step=step)
        )
        return self.publish("heartbeat", event, sequenced=False)

    def close(self) -> None:
        with self._lock:
            self.history.close()
            self._sock.close(linger=0)
