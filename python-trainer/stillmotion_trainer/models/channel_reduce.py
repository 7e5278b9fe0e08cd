"""Sums and maxima over the channel axis that export to fast onnxruntime graphs.

    channel_sum(x)[b, 0, i, j] = x[b, 0, i, j] + x[b, 1, i, j] + ... + x[b, C-1, i, j]
    channel_mean(x) = channel_sum(x) / C
    channel_max(x)[b, 0, i, j] = max_c x[b, c, i, j]

(B, C, h, w) -> (B, 1, h, w). In eager PyTorch they are x.sum(1) and x.amax(1) (keepdim). Under
a trace (the ONNX export) each is one Split of x into its C channels and one variadic Sum or Max
node, not ReduceSum / ReduceMax over axis 1: onnxruntime's CPU reduction over a middle axis ran
3-4x slower than Split + Sum on the matcher's cost volumes, 1.0-1.4 ms against 0.23-0.36 ms for
(1, 25, 128, 128) on one core (issue L; docs/models.md, "The matcher at half resolution in
grey, reductions over channels"). The values are the same bit for bit in onnxruntime: its
ReduceSum adds the channels in order, as Sum does, and a maximum has one value. (PyTorch's own
sum over 25 channels adds in another order, so the eager model and its export differ in the
last bit, as they did before.)
"""

from __future__ import annotations

import warnings
from typing import Any

import torch


class _ChannelReduce(torch.autograd.Function):
    """x.sum(1, keepdim=True) or x.amax(1, keepdim=True); exported as Split + Sum / Max."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, op: str, channels: int
    ) -> torch.Tensor:
        return x.sum(1, keepdim=True) if op == "Sum" else x.amax(1, keepdim=True)

    @staticmethod
    def symbolic(g: Any, x: Any, op: str, channels: int) -> Any:
        # PyTorch 1.13 hands a Function's symbolic the plain graph, whose g.op it has deprecated
        # (FutureWarning) for the graph context that later versions pass; both take g.op
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            if channels == 1:
                return g.op("Identity", x)
            parts = g.op("Split", x, axis_i=1, outputs=channels)
            return g.op(op, *parts)


def static_channels(x: torch.Tensor) -> int:
    """x.shape[1] as a Python int, also under a trace (where it is a traced value and int()
    warns): a generator's channel counts are fixed by its config, never by the input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return int(x.shape[1])


def _reduce(x: torch.Tensor, op: str) -> torch.Tensor:
    if torch.jit.is_tracing():
        return _ChannelReduce.apply(x, op, static_channels(x))
    return x.sum(1, keepdim=True) if op == "Sum" else x.amax(1, keepdim=True)


def channel_sum(x: torch.Tensor) -> torch.Tensor:
    """sum_c x[:, c], keeping the axis: (B, C, h, w) -> (B, 1, h, w)."""
    return _reduce(x, "Sum")


def channel_mean(x: torch.Tensor) -> torch.Tensor:
    """sum_c x[:, c] / C, keeping the axis: (B, C, h, w) -> (B, 1, h, w). PyTorch's mean over a
    few channels (the 3 of an image, the 7 of a level's features) is that sum in channel order
    divided by C, and so is onnxruntime's ReduceMean: the export's Split + Sum + Div gives the
    values ReduceMean gave."""
    if torch.jit.is_tracing():
        return channel_sum(x) / static_channels(x)
    return x.mean(1, keepdim=True)


def channel_max(x: torch.Tensor) -> torch.Tensor:
    """max_c x[:, c], keeping the axis: (B, C, h, w) -> (B, 1, h, w)."""
    return _reduce(x, "Max")
