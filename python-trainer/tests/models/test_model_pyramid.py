"""pooled_pyramid: each level equals F.avg_pool2d of the frame by its stride (ceil_mode), also
where the frame is not a multiple of the strides (partial cells weighted by their pixel counts),
eagerly and in a trace run at a size other than the traced one; the export pools the full frame
once."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from stillmotion_trainer.models.pyramid import cell_counts, pooled_pyramid
from stillmotion_trainer.models.warp import MATCHERS, DisplacementEstimator

STRIDES = (32, 16, 8, 4, 2)


def _direct_mean(image: np.ndarray, s: int) -> np.ndarray:
    """The ceil_mode mean of each s x s cell, by numpy slicing (not torch's pooling)."""
    b, c, h, w = image.shape
    out = np.zeros((b, c, -(-h // s), -(-w // s)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = image[:, :, i * s : (i + 1) * s, j * s : (j + 1) * s].mean(
                axis=(2, 3)
            )
    return out


@pytest.mark.parametrize("size", [(64, 64), (70, 45), (33, 97), (5, 3)])
def test_each_level_is_the_frame_pooled_by_its_stride(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    image = torch.rand(2, 3, *size, dtype=torch.float64)
    levels = pooled_pyramid(image, STRIDES + (1,))
    assert levels[1] is image
    for s in STRIDES:
        assert levels[s].shape == (2, 3, -(-size[0] // s), -(-size[1] // s))
        np.testing.assert_allclose(levels[s].numpy(), _direct_mean(image.numpy(), s), atol=1e-12)


def test_cell_counts_are_the_pixels_each_cell_holds() -> None:
    like = torch.zeros(1, 1, 3, 2)  # a 9 x 7 frame pooled by 4: cells of 4/4/1 rows, 4/3 columns
    counts = cell_counts(like, (9, 7), 4)
    assert counts.squeeze().tolist() == [[16, 12], [16, 12], [4, 3]]


def test_the_estimators_features_are_unchanged_to_float_rounding() -> None:
    """The embeddings on the pyramid against each pooling the frame itself (Embedding.forward)."""
    torch.manual_seed(1)
    estimator = DisplacementEstimator(3, "wide-half-grey").double().eval()
    image = torch.rand(2, 3, 80, 72, dtype=torch.float64)
    with torch.no_grad():
        shared = estimator.features(image)
        own = [embed(image) for embed in estimator.embeddings]
    for a, b in zip(shared, own):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


class _Pyramid(nn.Module):
    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        levels = pooled_pyramid(image, STRIDES)
        return tuple(levels[s] for s in STRIDES)


def test_a_trace_keeps_sizes_dynamic() -> None:
    """Traced at 64 x 64 (as the export traces), run at 50 x 37: the cell counts follow the size."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(_Pyramid(), (torch.rand(1, 3, 64, 64),))
    image = torch.rand(1, 3, 50, 37, dtype=torch.float64)
    for s, out in zip(STRIDES, traced(image)):
        np.testing.assert_allclose(out.numpy(), _direct_mean(image.numpy(), s), atol=1e-12)


def test_the_export_pools_the_full_frame_once() -> None:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pyramid(),
            (torch.rand(1, 3, 64, 64),),
            buffer,
            opset_version=16,
            input_names=["image"],
            dynamic_axes={"image": {2: "h", 3: "w"}},
        )
    nodes = onnx.load_from_string(buffer.getvalue()).graph.node
    # besides its shape, the frame is read once (torch pads each pooled input, by 0 here)
    readers = [n.op_type for n in nodes if "image" in n.input and n.op_type != "Shape"]
    assert readers == ["Pad"]


def test_every_matchers_strides_are_powers_of_two() -> None:
    """The pyramid pools each level from a finer one whose stride divides it; with powers of two
    that is always the level just finer."""
    for matcher in MATCHERS.values():
        for stride, _ in matcher.levels:
            assert stride & (stride - 1) == 0
