"""The training loop's event sink that publishes over ZeroMQ (and into the event history).

Maps each EventSink hook onto one TelemetryEvent kind of proto/.../telemetry.proto. Preview
tensors travel as extra ZeroMQ frames (uint8) and, for StreamEvents, inline in the event.
"""

from __future__ import annotations

import json
import threading
import traceback
from typing import Any, Mapping

import numpy as np

from stillmotion_trainer.errors import describe_error
from stillmotion_trainer.gen import telemetry_pb2
from stillmotion_trainer.server.telemetry import TelemetryPublisher
from stillmotion_trainer.training.events import EventSink


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8))


def _finite_scalars(metrics: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class TelemetrySink(EventSink):
    """Publishes every loop event; `stop_requested` is the external stop request."""

    def __init__(self, publisher: TelemetryPublisher, run_id: str) -> None:
        self.publisher = publisher
        self.run_id = run_id
        self.stop_requested = threading.Event()
        self.step = 0
        self.epoch = 0
        self.last_metrics: dict[str, float] = {}
        self.best_val_loss = float("nan")
        self.end_reason = ""

    def _event(self, **kind: Any) -> telemetry_pb2.TelemetryEvent:
        return telemetry_pb2.TelemetryEvent(run_id=self.run_id, **kind)

    def on_start(self, run_info: Mapping[str, Any]) -> None:
        config = run_info.get("config", {})
        started = telemetry_pb2.RunStarted(
            run_dir=str(run_info.get("run_dir", "")),
            start_step=int(run_info.get("start_step", 0)),
            world_size=int(run_info.get("world_size", 1)),
            config_json=json.dumps(config, default=str),
        )
        self.step = started.start_step
        self.publisher.publish("run", self._event(run_started=started))

    def on_step(self, step: int, metrics: Mapping[str, float]) -> None:
        scalars = _finite_scalars(metrics)
        self.step, self.last_metrics = step, scalars
        self.epoch = int(scalars.get("epoch", self.epoch))
        msg = telemetry_pb2.StepMetrics(step=step, epoch=self.epoch, scalars=scalars)
        self.publisher.publish("step", self._event(step=msg))

    def on_preview(self, step: int, images: np.ndarray, masks: np.ndarray) -> None:
        # (N, J, C, H, W) -> (N*J, C, H, W): a strip of frames
        imgs = _to_uint8(images.reshape(-1, *images.shape[-3:]))
        msks = _to_uint8(masks.reshape(-1, *masks.shape[-3:]))
        preview = telemetry_pb2.Preview(
            step=step,
            image_shape=list(imgs.shape),
            mask_shape=list(msks.shape),
            images=imgs.tobytes(),
            masks=msks.tobytes(),
        )
        # ZeroMQ carries the tensors as separate frames; the history keeps them inline.
        event = self._event(preview=preview)
        wire = self._event(preview=telemetry_pb2.Preview(step=step))
        wire.preview.image_shape.extend(imgs.shape)
        wire.preview.mask_shape.extend(msks.shape)
        self.publisher.publish("preview", event, preview.images, preview.masks, wire_event=wire)

    def on_checkpoint(self, step: int, path: str, is_best: bool) -> None:
        msg = telemetry_pb2.CheckpointSaved(step=step, path=str(path), is_best=is_best)
        self.publisher.publish("checkpoint", self._event(checkpoint=msg))

    def on_validation(self, step: int, metrics: Mapping[str, float]) -> None:
        scalars = _finite_scalars(metrics)
        total = scalars.get("total")
        if total is not None and not (total >= self.best_val_loss):
            self.best_val_loss = total
        msg = telemetry_pb2.ValidationMetrics(step=step, scalars=scalars)
        self.publisher.publish("validation", self._event(validation=msg))

    def on_end(self, step: int, reason: str) -> None:
        self.step, self.end_reason = step, reason
        self.publisher.publish(
            "run", self._event(run_ended=telemetry_pb2.RunEnded(step=step, reason=reason))
        )

    def on_error(self, error: BaseException) -> None:
        """run_ended "failed"; `error` starts with the one line `CODE: message` (the
        orchestrator reports that line and logs the traceback that follows it)."""
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.on_failure(self.step, f"{describe_error(error)}\n{trace[-4000:]}")

    def on_failure(self, step: int, error: str) -> None:
        if self.end_reason == "failed":
            return  # on_error reported it already; the run manager's call must not repeat it
        self.end_reason = "failed"
        ended = telemetry_pb2.RunEnded(step=step, reason="failed", error=error)
        self.publisher.publish("run", self._event(run_ended=ended))

    def should_stop(self) -> bool:
        return self.stop_requested.is_set()
