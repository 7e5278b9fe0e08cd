"""channel_reduce: PyTorch's sum / mean / max over channels eagerly and in a re-run trace, and
in the ONNX export one Split and one variadic Sum / Max (no ReduceSum / ReduceMean / ReduceMax
over axis 1, which onnxruntime runs 3-4x slower)."""

from __future__ import annotations

import io
import warnings

import onnx
import pytest
import torch
from torch import nn

from stillmotion_trainer.models.channel_reduce import (
    channel_max,
    channel_mean,
    channel_sum,
    static_channels,
)
from stillmotion_trainer.models.warp import DisplacementEstimator, cost_volume


class _Reductions(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return channel_sum(x), channel_mean(x), channel_max(x)


def _eager(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return x.sum(1, keepdim=True), x.mean(1, keepdim=True), x.amax(1, keepdim=True)


def _onnx_nodes(module: nn.Module, sample: tuple[torch.Tensor, ...]) -> list:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, sample, buffer, opset_version=16)
    return list(onnx.load_from_string(buffer.getvalue()).graph.node)


def _onnx_ops(module: nn.Module, sample: tuple[torch.Tensor, ...]) -> list[str]:
    return [node.op_type for node in _onnx_nodes(module, sample)]


@pytest.mark.parametrize("channels", [1, 3, 7, 25])
def test_eager_values_are_pytorchs(channels):
    x = torch.randn(2, channels, 5, 6, generator=torch.Generator().manual_seed(channels))
    for got, want in zip(_Reductions()(x), _eager(x)):
        assert torch.equal(got, want) and got.shape == (2, 1, 5, 6)


def test_a_trace_rerun_at_another_size_gives_the_eager_values():
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_Reductions(), (torch.randn(1, 7, 8, 8),), check_trace=False)
        x = torch.randn(2, 7, 11, 5)
        for got, want in zip(traced(x), _eager(x)):
            assert torch.equal(got, want)


@pytest.mark.parametrize("channels", [3, 25])
def test_export_splits_the_channels_and_reduces_them_with_one_variadic_node(channels):
    ops = _onnx_ops(_Reductions(), (torch.randn(1, channels, 8, 8),))
    assert not [op for op in ops if op.startswith("Reduce")]
    assert ops.count("Split") == 3 and ops.count("Sum") == 2 and ops.count("Max") == 1
    assert ops.count("Div") == 1  # the mean: the sum divided by the channel count


def test_one_channel_exports_as_identity():
    ops = _onnx_ops(_Reductions(), (torch.randn(1, 1, 8, 8),))
    assert "Split" not in ops and ops.count("Identity") == 3


def test_static_channels_is_a_python_int_also_in_a_trace():
    seen = []

    def probe(x: torch.Tensor) -> torch.Tensor:
        seen.append(static_channels(x))
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no TracerWarning either
        torch.jit.trace(probe, (torch.randn(1, 4, 3, 3),), check_trace=False)
    assert seen == [4] and isinstance(seen[0], int)


def test_the_matcher_exports_without_channel_reductions():
    """The cost volume (per displacement, a sum over the features' channels), the soft arg-min
    (max and sum over displacements) and the grey level's mean use channel_reduce; the only
    reductions left are the features' normalisation over (h, w), onnxruntime's fast case."""

    class Motion(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.matcher = DisplacementEstimator(3, "wide-half-grey")

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.matcher(a, b)

    nodes = _onnx_nodes(Motion().eval(), (torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)))
    reductions = [n for n in nodes if n.op_type.startswith("Reduce")]
    assert reductions and all(
        n.op_type == "ReduceMean" and list(onnx.helper.get_attribute_value(a)) == [2, 3]
        for n in reductions
        for a in n.attribute
        if a.name == "axes"
    )
    ops = [n.op_type for n in nodes]
    assert ops.count("Max") == len(Motion().matcher.levels) and "Split" in ops


def test_traced_cost_volume_equals_eager():
    g = torch.Generator().manual_seed(1)
    ref, other = torch.randn(2, 7, 9, 10, generator=g), torch.randn(2, 7, 9, 10, generator=g)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(lambda a, b: cost_volume(a, b, 2, 5), (ref, other))
        got = traced(ref, other)
    assert torch.allclose(got, cost_volume(ref, other, 2, 5), atol=1e-6)
