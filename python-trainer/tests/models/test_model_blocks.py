"""blocks.upsample_bilinear: F.interpolate's values, and under autograd the same gradient as
F.interpolate's backward, bit for bit, whatever layout the gradient arrives in."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stillmotion_trainer.models.blocks import BilinearUpsample, upsample_bilinear

CL = torch.channels_last


def _reference(x: torch.Tensor, grad: torch.Tensor, scale: int):
    x = x.detach().requires_grad_(True)
    y = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    (g,) = torch.autograd.grad(y, x, grad)
    return y.detach(), g


@pytest.mark.parametrize("layout", [torch.contiguous_format, CL])
@pytest.mark.parametrize("scale", [2, 4])
def test_values_and_gradients_equal_f_interpolates_bit_for_bit(layout, scale):
    """The gradient as a concatenation's backward hands it on: a channel slice of a wider
    tensor, contiguous in no layout."""
    g = torch.Generator().manual_seed(scale)
    x = torch.randn(3, 5, 9, 7, generator=g).contiguous(memory_format=layout)
    wide = torch.randn(3, 8, 9 * scale, 7 * scale, generator=g).contiguous(memory_format=layout)
    grad = wide[:, 2:7]
    want_y, want_g = _reference(x, grad, scale)
    xr = x.detach().requires_grad_(True)
    y = upsample_bilinear(xr, scale)
    (got_g,) = torch.autograd.grad(y, xr, grad)
    assert torch.equal(y, want_y) and torch.equal(got_g, want_g)
    assert got_g.is_contiguous(memory_format=layout)
    assert y.grad_fn is not None and "BilinearUpsample" in type(y.grad_fn).__name__


def test_without_autograd_and_in_a_trace_it_is_plain_interpolation():
    x = torch.rand(1, 2, 4, 6)
    with torch.no_grad():
        assert torch.equal(
            upsample_bilinear(x, 2), F.interpolate(x, scale_factor=2, mode="bilinear")
        )
    traced = torch.jit.trace(BilinearUpsample(2), x.requires_grad_(True))
    kinds = {node.kind() for node in traced.graph.nodes()}
    assert "aten::upsample_bilinear2d" in kinds and not any("Python" in k for k in kinds)
