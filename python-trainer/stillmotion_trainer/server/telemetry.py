"""ZeroMQ PUB telemetry and the in-memory event history. The only module that imports zmq.

Wire format (proto/stillmotion/trainer/v1/telemetry.proto): multipart [topic, TelemetryEvent,
*binary payloads]. Sequenced events (everything a run reports) get seq = 1, 2, 3, ... so that
subscribers can detect gaps; heartbeats are unsequenced and repeat the last seq, so a replay
from the history (which holds no heartbeats) has no holes.

Bound beyond loopback, the publisher is a ZeroMQ CURVE server (`CurveServer`): traffic is
encrypted and a ZAP handler admits exactly one subscriber key, the one the orchestrator generated
for this run. On loopback it stays plain: see `server/process.py` for what that leaves open and why.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from typing import Any, Iterator, Optional

import zmq
import zmq.auth.thread
from zmq.utils import z85

from stillmotion_trainer.errors import StillMotionError
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


class TelemetrySecurityError(StillMotionError, ValueError):
    """CURVE telemetry cannot be set up: libzmq lacks CURVE, or the subscriber key is malformed."""

    code = "FAILED_PRECONDITION"


CURVE_KEY_LENGTH = 40  # a 32-byte Curve25519 key in Z85 text


def require_curve(available: Optional[bool] = None) -> None:
    """Raise TelemetrySecurityError unless this libzmq was built with CURVE (libsodium)."""
    if available is None:
        available = bool(zmq.has("curve"))
    if not available:
        raise TelemetrySecurityError(
            f"telemetry beyond loopback needs ZeroMQ CURVE, but this libzmq {zmq.zmq_version()} "
            "was built without it (zmq.has('curve') is False): bind telemetry to 127.0.0.1, or "
            "install a libzmq with CURVE (Debian's libzmq5 has it)"
        )


def check_curve_key(key: str, what: str) -> bytes:
    """`key` as Z85 bytes if it is a 40-character Z85 Curve25519 key; else a typed error."""
    try:
        raw = key.encode("ascii")
        valid = len(raw) == CURVE_KEY_LENGTH and len(z85.decode(raw)) == 32
    except (UnicodeEncodeError, ValueError, KeyError, IndexError, TypeError):
        valid = False
    if not valid:
        raise TelemetrySecurityError(
            f"{what}: not a CURVE public key (expected {CURVE_KEY_LENGTH} Z85 characters, "
            f"got {len(key)} characters)"
        )
    return raw


class _OneSubscriber:
    """ZAP credentials provider: admits the one client public key it was given."""

    def __init__(self, client_key: bytes) -> None:
        self._client_key = client_key

    def callback(self, domain: str, key: bytes) -> bool:
        return hmac.compare_digest(key, self._client_key)


class CurveServer:
    """A fresh server key pair (zmq.curve_keypair) and a ZAP handler for one subscriber key.

    The secret key never leaves this process; the public key is printed in the `listening`
    line so the orchestrator can authenticate us. The handler runs on its own context because a
    context holds at most one ZAP handler.
    """

    def __init__(self, context: zmq.Context, client_key: str) -> None:
        require_curve()
        allowed = check_curve_key(client_key, "STILLMOTION_TELEMETRY_CLIENT_KEY")
        self.public_key, self._secret_key = zmq.curve_keypair()
        self._auth = zmq.auth.thread.ThreadAuthenticator(context)
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=_OneSubscriber(allowed))

    def apply(self, sock: zmq.Socket) -> None:
        """Make `sock` a CURVE server (before it binds)."""
        sock.curve_secretkey = self._secret_key
        sock.curve_publickey = self.public_key
        sock.curve_server = True

    def stop(self) -> None:
        self._auth.stop()


class TelemetryPublisher:
    """Thread-safe publisher bound to `endpoint` ("tcp://127.0.0.1:0" picks a free port).

    With `curve_client_key` (the subscriber's Z85 public key) it is a CURVE server that admits
    only that subscriber; `server_public_key` is then what the subscriber must name.
    """

    def __init__(
        self,
        endpoint: str = "tcp://127.0.0.1:0",
        history: Optional[EventHistory] = None,
        curve_client_key: Optional[str] = None,
    ):
        self._curve: Optional[CurveServer] = None
        if curve_client_key is None:
            self._ctx = zmq.Context.instance()
        else:
            self._ctx = zmq.Context()
            try:
                self._curve = CurveServer(self._ctx, curve_client_key)
            except BaseException:
                self._ctx.term()
                raise
        self.server_public_key: Optional[str] = (
            self._curve.public_key.decode("ascii") if self._curve else None
        )
        self._sock = self._ctx.socket(zmq.PUB)
        if self._curve:
            self._curve.apply(self._sock)
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
        try:
            self._sock.bind(endpoint)
        except zmq.ZMQError:
            self._sock.close(linger=0)
            if self._curve:
                self._curve.stop()
                self._ctx.term()
            raise
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
            if self._curve:
                self._curve.stop()
                self._ctx.term()
