"""The loop end to end on a tiny CPU run: determinism, modes, GAN, metrics and events."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_helpers import SIZE, quiet, small_config

from stillmotion_trainer.training.checkpoint import load_checkpoint
from stillmotion_trainer.training.events import EventSink, RecordingEvents
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.metrics_log import read_metrics

LOSS_KEYS = {"total", "image", "mask_first", "mask_second", "adv"}
TIMING_KEYS = {"lr", "samples_per_s", "frames_per_s", "data_time_s", "step_time_s", "epoch"}


def _losses(run_dir) -> list[list[float]]:
    rows = read_metrics(run_dir / "metrics.jsonl", kind="train")
    return [[r[k] for k in sorted(LOSS_KEYS)] for r in rows]


def test_same_config_and_seed_give_identical_losses(tmp_path):
    cfg = small_config(stop={"max_steps": 3})
    train(cfg, run_dir=tmp_path / "a", log=quiet)
    train(cfg, run_dir=tmp_path / "b", log=quiet)
    a, b = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert len(a) == 3 and a == b  # bit-identical, not merely close
    other = small_config(stop={"max_steps": 3}, train={"device": "cpu", "seed": 8})
    train(other, run_dir=tmp_path / "c", log=quiet)
    assert _losses(tmp_path / "c") != a


def test_every_loss_term_and_timing_is_logged_each_step_and_sent_to_the_sink(tmp_path):
    events = RecordingEvents()
    cfg = small_config(
        stop={"max_steps": 4},
        val={"every_n_steps": 2},
        log={"every_n_steps": 2, "preview_every_n_steps": 2, "preview_count": 1},
    )
    lines: list[str] = []
    result = train(cfg, run_dir=tmp_path, events=events, log=lines.append)
    assert result.reason == "max_steps" and result.step == 4
    rows = read_metrics(tmp_path / "metrics.jsonl")
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4]
    assert all(LOSS_KEYS | TIMING_KEYS <= set(r) for r in train_rows)
    assert [r["step"] for r in rows if r["kind"] == "val"] == [2, 4]
    names = [n for n, _ in events.calls]
    assert names[0] == "on_start" and names[-1] == "on_end"
    assert [a[0] for a in events.named("on_step")] == [1, 2, 3, 4]
    assert set(events.named("on_step")[0][1]) >= LOSS_KEYS | TIMING_KEYS
    assert events.named("on_end") == [(4, "max_steps")]
    step, images, masks = events.named("on_preview")[0]
    assert (
        step == 2 and images.shape == (1, 3, 3, SIZE, SIZE) and masks.shape == (1, 3, 1, SIZE, SIZE)
    )
    assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1
    assert [a[0] for a in events.named("on_validation")] == [2, 4]
    assert any(is_best for _, _, is_best in events.named("on_checkpoint"))
    step_lines = [line for line in lines if line.startswith("step ")]
    assert step_lines[1].startswith("step 2 | total ") and step_lines[1].endswith(" samples/s")
    assert " | image " in step_lines[1] and " | m1 " in step_lines[1] and " | lr " in step_lines[1]


def test_the_default_sink_is_a_no_op_protocol():
    class Partial(EventSink):
        def on_step(self, step, metrics):
            self.last = step

    sink = Partial()
    sink.on_start({})
    sink.on_end(1, "max_steps")
    assert sink.should_stop() is False and isinstance(sink, EventSink)


@pytest.mark.parametrize(
    "mode, initial_mask, reseed_prob",
    [
        ("reverse", "zeros", 0.0),
        ("fused", "random", 0.0),
        ("keyframe", "keyframe", 0.0),
        ("cycle", "keyframe", 0.5),
    ],
)
def test_each_input_mode_trains(tmp_path, mode, initial_mask, reseed_prob):
    train_cfg = {"device": "cpu", "mode": mode, "initial_mask": initial_mask, "bptt_window": 2}
    cfg = small_config(
        train=train_cfg | {"reseed_prob": reseed_prob},
        stop={"max_steps": 2},
    )
    result = train(cfg, run_dir=tmp_path, log=quiet)
    assert result.step == 2
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert all(np.isfinite(r["total"]) and r["total"] > 0 for r in rows)


@pytest.mark.parametrize("mask_head", ["conv", "warp"])
def test_the_next_frame_generator_variant_trains(tmp_path, mask_head):
    """G(I_t, M^_t, I_{t+1}) (models/next_frame.py) is given the next real frame."""
    overrides = {"next_frame_input": True, "mask_head": mask_head, "mask_residual": True}
    cfg = small_config(model={"preset": "tiny", "overrides": overrides}, stop={"max_steps": 2})
    assert train(cfg, run_dir=tmp_path, log=quiet).step == 2
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert all(np.isfinite(r["total"]) for r in rows)


def test_gan_steps_the_discriminator_and_adds_the_adversarial_term(tmp_path):
    cfg = small_config(
        train={
            "device": "cpu",
            "gan": {"enabled": True, "discriminator": {"base_width": 4, "depth": 2}},
        },
        loss={"lambda_adv": 0.1},
        stop={"max_steps": 2},
        checkpoint={"every_n_steps": 1, "keep_last": 5},
    )
    train(cfg, run_dir=tmp_path, log=quiet)
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert all(r["adv"] > 0 and r["d_loss"] > 0 for r in rows)
    for r in rows:  # total = weighted sum of the terms, the adversarial one included
        expected = r["image"] + r["mask_first"] + r["mask_second"] + 0.1 * r["adv"]
        assert r["total"] == pytest.approx(expected, rel=1e-5)
    one = load_checkpoint(tmp_path / "checkpoints" / "step-00000001.pt")
    two = load_checkpoint(tmp_path / "checkpoints" / "step-00000002.pt")
    changed = [
        not torch.equal(one["discriminator"][k], two["discriminator"][k])
        for k in one["discriminator"]
    ]
    assert any(changed) and one["d_optimizer"] is not None
