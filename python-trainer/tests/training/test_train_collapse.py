"""Collapse detection: mask statistics, the monitor's verdict, the loop's metrics and stop."""

import math

import numpy as np
import pytest
import torch
from train_helpers import small_config

from stillmotion_trainer.training import loop, step_metrics
from stillmotion_trainer.training.collapse import (
    CollapseMonitor,
    mask_statistics,
    spread_over_walks,
)


def test_mask_statistics_match_an_independent_numpy_computation():
    rng = np.random.default_rng(0)
    pred = rng.random((3, 2, 1, 4, 5)).astype(np.float32)  # W=3 walks, J=2 transitions
    key_masks = np.zeros((2, 3, 1, 4, 5), np.float32)  # B=2 clips, T=3 frames
    key_masks[1, 2, 0, :2, :2] = 1
    is_key = np.zeros((2, 3), bool)
    is_key[1, 2] = True
    dst = np.array([[1, 2], [2, 1], [1, 0]])
    clip = np.array([0, 1, 1])  # only walk 1, transition 0 lands on clip 1's key frame 2
    stats = mask_statistics(
        torch.from_numpy(pred), torch.from_numpy(dst), torch.from_numpy(clip),
        torch.from_numpy(key_masks), torch.from_numpy(is_key),
    )  # fmt: skip
    p, k = pred[1, 0, 0] > 0.5, key_masks[1, 2, 0] > 0.5
    assert stats["mask_mean"] == pytest.approx(pred.mean(), abs=1e-6)
    assert stats["mask_above_half"] == pytest.approx((pred > 0.5).mean(), abs=1e-6)
    assert stats["mask_spread"] == pytest.approx(pred.std(axis=0).mean(), abs=1e-6)
    assert stats["mask_key_iou"] == pytest.approx((p & k).sum() / (p | k).sum(), abs=1e-6)


def _direct_statistics(pred_masks, dst, clip, key_masks, is_key):  # noqa: ANN001, ANN202
    """The statistics written directly with torch's std and one float() per value: what the
    loop logged before mask_statistics was made cheap (issue L item 4)."""
    p = pred_masks.detach().float()
    spread = float(p.std(dim=0, unbiased=False).mean()) if p.shape[0] > 1 else float("nan")
    clip_of = clip.unsqueeze(1).expand_as(dst)
    lands_on_key = is_key[clip_of, dst]
    iou = float("nan")
    if bool(lands_on_key.any()):
        pred = p[lands_on_key] > 0.5
        key = key_masks[clip_of[lands_on_key], dst[lands_on_key]] > 0.5
        inter = (pred & key).flatten(1).sum(1).float()
        union = (pred | key).flatten(1).sum(1).float()
        ious = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
        iou = float(ious.mean())
    return {
        "mask_mean": float(p.mean()),
        "mask_above_half": float((p > 0.5).float().mean()),
        "mask_spread": spread,
        "mask_key_iou": iou,
    }


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal bit for bit (NaN equal to NaN), same keys in the same order."""
    return list(a) == list(b) and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


@pytest.mark.parametrize("walks", [2, 3, 4, 8, 16])
def test_spread_over_walks_is_torch_std_bit_for_bit(walks):
    g = torch.Generator().manual_seed(walks)
    for p in (
        torch.sigmoid(4 * torch.randn(walks, 7, 1, 33, 64, generator=g)),  # soft masks
        torch.rand(walks, 3, 1, 16, 16, generator=g).round(),  # binary: many exact zeros
        torch.full((walks, 2, 1, 8, 8), 0.3),  # identical walks: spread exactly 0
    ):
        expected = p.std(dim=0, unbiased=False)
        assert torch.equal(spread_over_walks(p), expected)


def test_mask_statistics_equal_the_direct_computation_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    for case in range(30):
        w, j, side = (1, 2, 4, 8, 16)[case % 5], 7, (16, 64, 33)[case % 3]
        pred = torch.sigmoid(4 * torch.randn(w, j, 1, side, side, generator=g))
        dst = torch.stack([torch.randperm(j + 1, generator=g)[:j] for _ in range(w)])
        clip = torch.randint(0, w, (w,), generator=g)
        is_key = torch.rand(w, j + 1, generator=g) < 0.3
        key_masks = (torch.rand(w, j + 1, 1, side, side, generator=g) > 0.6).float()
        key_masks *= is_key[..., None, None, None]
        args = (pred, dst, clip, key_masks, is_key)
        assert _same(mask_statistics(*args), _direct_statistics(*args)), case


def test_the_loop_logs_what_the_direct_computation_gives(tmp_path, monkeypatch):
    """Every step of a real run: the statistics the loop logs are the direct computation's on
    the same masks, and the loss terms it logs are float() of each term."""
    seen: list[tuple[dict[str, float], dict[str, float]]] = []

    def checked(*args):  # noqa: ANN002, ANN202
        stats = mask_statistics(*args)
        seen.append((stats, _direct_statistics(*args)))
        return stats

    terms: list[dict[str, float]] = []
    direct_metrics = step_metrics.step_metrics

    def record_terms(result, ctx, gan):  # noqa: ANN001, ANN202
        terms.append({name: float(result.terms[name]) for name in step_metrics.LOSS_TERMS})
        return direct_metrics(result, ctx, gan)

    monkeypatch.setattr(step_metrics, "mask_statistics", checked)
    monkeypatch.setattr(loop, "step_metrics", record_terms)
    sink = _Sink()
    cfg = small_config(train={"device": "cpu", "seed": 7, "mode": "fused"}, stop={"max_steps": 3})
    loop.train(cfg, run_dir=tmp_path / "run", events=sink, log=lambda line: None)
    assert len(seen) == 3 and all(_same(new, direct) for new, direct in seen)
    for logged, direct, t in zip(sink.steps, seen, terms):
        assert {k: logged[k] for k in ("mask_mean", "mask_above_half", "mask_spread")} == {
            k: direct[1][k] for k in ("mask_mean", "mask_above_half", "mask_spread")
        }
        assert {k: logged[k] for k in t} == t


def test_no_key_landing_gives_nan_iou_and_one_walk_nan_spread():
    stats = mask_statistics(
        torch.ones(1, 2, 1, 4, 4), torch.tensor([[1, 2]]), torch.tensor([0]),
        torch.zeros(1, 3, 1, 4, 4), torch.zeros(1, 3, dtype=torch.bool),
    )  # fmt: skip
    assert math.isnan(stats["mask_key_iou"]) and math.isnan(stats["mask_spread"])


def test_monitor_warns_once_after_patience_and_resets():
    monitor = CollapseMonitor(patience=3)
    ones = {"mask_mean": 0.996, "mask_above_half": 0.999, "mask_spread": 0.002}
    healthy = {"mask_mean": 0.1, "mask_above_half": 0.08, "mask_spread": 0.2}
    assert [monitor.update(s, ones) for s in (1, 2)] == [None, None]
    warning = monitor.update(3, ones)
    assert warning is not None and "mask collapse" in warning and monitor.collapsed
    assert monitor.update(4, ones) is None  # once per episode
    assert monitor.update(5, healthy) is None and not monitor.collapsed
    empty = {"mask_mean": 0.0001, "mask_above_half": 0.0, "mask_spread": 0.05}
    assert "almost empty" in (monitor.symptom(empty) or "")


class _Sink(loop.NullEvents):
    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []

    def on_step(self, step, metrics):  # noqa: ANN001 - EventSink signature
        self.steps.append(dict(metrics))


def test_loop_reports_mask_statistics_and_stops_on_collapse(tmp_path, monkeypatch):
    class Eager(CollapseMonitor):  # every step looks collapsed: exercises the wiring
        def __init__(self) -> None:
            super().__init__(patience=2, min_spread=2.0)

    monkeypatch.setattr(loop, "CollapseMonitor", Eager)
    lines: list[str] = []
    sink = _Sink()
    cfg = small_config(train={"device": "cpu", "seed": 7, "fail_on_collapse": True})
    result = loop.train(cfg, run_dir=tmp_path / "run", events=sink, log=lines.append)
    assert result.reason == "collapse" and result.step == 2
    for key in ("mask_mean", "mask_above_half", "mask_spread"):
        assert 0.0 <= sink.steps[-1][key] <= 1.0
    assert any(line.startswith("warning: step 2: mask collapse") for line in lines)


def test_collapse_without_fail_on_collapse_only_warns(tmp_path, monkeypatch):
    class Eager(CollapseMonitor):
        def __init__(self) -> None:
            super().__init__(patience=1, min_spread=2.0)

    monkeypatch.setattr(loop, "CollapseMonitor", Eager)
    lines: list[str] = []
    result = loop.train(
        small_config(stop={"max_steps": 3}), run_dir=tmp_path / "r", log=lines.append
    )
    assert result.reason == "max_steps"
    assert sum("mask collapse" in line for line in lines) == 1


def test_train_command_fail_on_collapse_flag_stops_with_reason_collapse(
    tmp_path, capsys, monkeypatch
):
    import json

    import yaml  # type: ignore[import]  # no stubs on the Debian machines
    from train_helpers import base_raw

    from stillmotion_trainer.cli import main

    class Eager(CollapseMonitor):
        def __init__(self) -> None:
            super().__init__(patience=1, min_spread=2.0)

    monkeypatch.setattr(loop, "CollapseMonitor", Eager)
    monkeypatch.setenv("STILLMOTION_THREADS", "1")
    before = torch.get_num_threads()
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(base_raw()))
    try:
        code = main(
            [
                "train",
                "--config",
                str(config),
                "--run-dir",
                str(tmp_path / "r"),
                "--fail-on-collapse",
            ]
        )
    finally:
        torch.set_num_threads(before)
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["reason"] == "collapse"
    assert "mask collapse" in err
