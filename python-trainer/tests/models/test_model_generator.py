"""The generator: both variants and decoders, any size, 1 and 3 channels, deterministic."""

import dataclasses

import numpy as np
import pytest
import torch

from stillmotion_trainer.models.factory import build_generator, count_parameters
from stillmotion_trainer.models.generator import (
    GeneratorConfig,
    SeparateGenerator,
    SharedGenerator,
)


def _build(seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    settings: dict = {"base_width": 4, "depth": 2, **kw}
    return build_generator(GeneratorConfig(**settings)).eval()


@pytest.mark.parametrize("variant", ["shared", "separate"])
@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_outputs_have_input_shapes_and_lie_in_unit_interval(
    variant, decoder, channels, stem_stride
):
    g = _build(variant=variant, decoder=decoder, channels=channels, stem_stride=stem_stride)
    image, mask = torch.rand(2, channels, 16, 24), torch.rand(2, 1, 16, 24)
    with torch.no_grad():
        next_image, next_mask = g(image, mask)
    assert next_image.shape == (2, channels, 16, 24)
    assert next_mask.shape == (2, 1, 16, 24)
    for out in (next_image, next_mask):
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (17, 9), (33, 31)])
@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_odd_sizes_are_padded_and_cropped_back(size, decoder, stem_stride):
    g = _build(decoder=decoder, depth=3, stem_stride=stem_stride)
    h, w = size
    with torch.no_grad():
        next_image, next_mask = g(torch.rand(1, 3, h, w), torch.rand(1, 1, h, w))
    assert next_image.shape == (1, 3, h, w) and next_mask.shape == (1, 1, h, w)


@pytest.mark.parametrize("stem_stride,pads", [(1, (3, 2)), (2, (3, 6))])
def test_odd_size_equals_edge_padded_input_cropped_back(stem_stride, pads):
    # documented behaviour: pad right/bottom by edge replication to a multiple of `multiple`
    g = _build(depth=2, stem_stride=stem_stride)
    assert g.cfg.multiple == 4 * stem_stride
    image, mask = torch.rand(1, 3, 13, 10), torch.rand(1, 1, 13, 10)
    spec = [(0, 0), (0, 0), (0, pads[0]), (0, pads[1])]
    padded_image = torch.tensor(np.pad(image.numpy(), spec, "edge"))
    padded_mask = torch.tensor(np.pad(mask.numpy(), spec, "edge"))
    with torch.no_grad():
        odd_image, odd_mask = g(image, mask)
        full_image, full_mask = g(padded_image, padded_mask)
    assert torch.allclose(odd_image, full_image[..., :13, :10], atol=1e-6)
    assert torch.allclose(odd_mask, full_mask[..., :13, :10], atol=1e-6)


def test_same_seed_gives_identical_weights_and_outputs():
    a, b = _build(seed=3), _build(seed=3)
    image, mask = torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(a(image, mask)[0], b(image, mask)[0])
    c = _build(seed=4)
    with torch.no_grad():
        assert not torch.equal(a(image, mask)[0], c(image, mask)[0])


@pytest.mark.parametrize("variant", ["shared", "separate"])
@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_gradients_reach_every_parameter(variant, decoder, stem_stride):
    g = _build(variant=variant, decoder=decoder, stem_stride=stem_stride).train()
    next_image, next_mask = g(torch.rand(2, 3, 16, 16), torch.rand(2, 1, 16, 16))
    (next_image.mean() + next_mask.mean()).backward()
    # every parameter is on the path to an output (a single one may still be 0: a dead ReLU)
    assert all(p.grad is not None for p in g.parameters())
    nonzero = sum(int(p.grad.abs().sum() > 0) for p in g.parameters() if p.grad is not None)
    assert nonzero >= 0.9 * len(list(g.parameters()))


def test_variants_are_the_claimed_arrangements():
    shared = _build(variant="shared")
    separate = _build(variant="separate")
    assert isinstance(shared, SharedGenerator) and isinstance(separate, SeparateGenerator)
    # claim 7: one encoder feeds both heads
    assert hasattr(shared, "encoder") and not hasattr(separate, "encoder")
    # claims 5-6: two networks with different structures (the mask net is narrower)
    assert count_parameters(separate.mask_net) < count_parameters(separate.image_net)


@pytest.mark.parametrize("stages", [0, 1, 2])
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_shared_decoder_stages_moves_the_branch_point(stages, stem_stride):
    g = _build(shared_decoder_stages=stages, stem_stride=stem_stride)
    assert len(g.shared_decoder.stages) == stages
    if stem_stride == 2:  # one full-resolution lift when fully shared, else one per branch
        assert len(g.lifts) == (1 if stages == 2 else 2)
    assert len(g.image_decoder.stages) == len(g.mask_decoder.stages) == 2 - stages
    with torch.no_grad():
        next_image, next_mask = g(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8))
    assert next_image.shape == (1, 3, 8, 8) and next_mask.shape == (1, 1, 8, 8)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("variant", "triple", "variant: unsupported value 'triple'. Should be one of"),
        ("decoder", "pixelshuffle", "decoder: unsupported value"),
        ("channels", 2, "channels: unsupported value 2"),
        ("depth", 0, "depth: expected an integer in 1..6"),
        ("base_width", 1, "base_width: expected an integer >= 2"),
        ("shared_decoder_stages", 5, "shared_decoder_stages: expected None or an integer"),
        ("stem_stride", 4, "stem_stride: unsupported value 4. Should be one of: 1, 2"),
        ("head_kernel", 5, "head_kernel: unsupported value 5. Should be one of: 1, 3"),
    ],
)
def test_bad_config_raises_naming_the_field(field, value, message):
    cfg = dataclasses.replace(GeneratorConfig(depth=3), **{field: value})
    with pytest.raises(ValueError, match=message):
        build_generator(cfg)


def test_warp_mask_head_needs_the_next_frame_input():
    with pytest.raises(ValueError, match="mask_head: 'warp' needs next_frame_input=True"):
        build_generator(GeneratorConfig(mask_head="warp"))


def test_wrong_input_shapes_raise_clear_errors():
    g = _build(channels=3)
    with pytest.raises(ValueError, match=r"image: expected shape \(B, 3, H, W\)"):
        g(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"mask: expected shape \(1, 1, 8, 8\)"):
        g(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 9))


@pytest.mark.parametrize("head_kernel", [1, 3])
def test_fused_heads_equal_the_two_heads_run_apart(head_kernel):
    # with a fully shared decoder both heads run as one convolution; it must change nothing
    g = _build(stem_stride=2, head_kernel=head_kernel)
    image, mask = torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)
    x = torch.nn.functional.pad(torch.cat([image, mask], 1), [0, 0, 0, 0], mode="replicate")
    with torch.no_grad():
        feats = g.encoder(x)
        y = g.lifts[0](g.shared_decoder(feats[-1], feats), x)
        apart = (g.image_head(y), g.mask_head(y))
        fused = g(image, mask)
    assert torch.allclose(fused[0], apart[0], atol=1e-6)
    assert torch.allclose(fused[1], apart[1], atol=1e-6)
