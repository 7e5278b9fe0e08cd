"""The warp image head (models/image_warp.py, GeneratorConfig.image_head): it copies until
trained, moves image and mask by one field, learns that field from L_I, and exports to ONNX."""

import numpy as np
import pytest
import torch
from torch import nn

from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.image_warp import MAX_RESIDUAL, MAX_STEP, ImageWarpBranch
from stillmotion_trainer.models.next_frame import generation_step, image_field

WARP = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")


def _model(preset: str = "tiny") -> nn.Module:
    torch.manual_seed(0)
    return build_generator(generator_config(preset, **WARP)).eval()


def _textured(h: int, w: int, seed: int = 0) -> torch.Tensor:
    import cv2

    small = np.random.default_rng(seed).random((h // 4, w // 4, 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    return torch.from_numpy(big.transpose(2, 0, 1))[None]  # (1, 3, H, W)


def _set_head(branch: ImageWarpBranch, fx: float, fy: float, r: float) -> None:
    """Output layer = a constant: field (fx, fy) in pixels at size 32 x 32, residual r."""
    head = branch.net.head[0]
    nn.init.zeros_(head.weight)

    def logit(v: float) -> float:  # s with MAX * (2 s - 1) = v
        s = (v + 1) / 2
        return float(np.log(s / (1 - s)))

    bias = [logit(fx / (MAX_STEP * 32)), logit(fy / (MAX_STEP * 32))]
    bias += [logit(r / MAX_RESIDUAL)] * 3
    with torch.no_grad():
        head.bias.copy_(torch.tensor(bias))


def test_untrained_head_copies_image_and_mask():
    model = _model()
    image, mask = _textured(40, 24), (torch.rand(1, 1, 40, 24) > 0.5).float()
    next_image, next_mask = generation_step(model, image, mask)
    assert (next_image - image).abs().max() < 1e-5
    assert (next_mask - mask).abs().max() < 1e-5
    assert image_field(model, image, mask).abs().max() == 0.0


def test_one_field_moves_image_and_mask_together():
    model = _model()
    branch = model.image_model
    _set_head(branch, fx=-2.0, fy=0.0, r=0.0)  # out(p) = in(p - 2 in x): content 2 px right
    image = _textured(32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 10:20, 8:16] = 1.0
    with torch.no_grad():
        next_image, carried = branch(image, mask)
        _, next_mask = generation_step(model, image, mask)
    shifted = torch.roll(image, 2, dims=3)
    assert (next_image - shifted)[..., 2:].abs().max() < 1e-4  # exact away from the left edge
    assert (next_image[..., :2] - image[..., :1]).abs().max() < 1e-4  # the edge repeats
    assert torch.equal(next_mask, carried)  # generation's mask is the image's own field's
    assert (carried - torch.roll(mask, 2, dims=3)).abs().max() < 1e-4


def test_residual_is_bounded_and_keeps_the_mean_colour():
    model = _model()
    branch = model.image_model
    _set_head(branch, fx=0.0, fy=0.0, r=0.05)  # a uniform brightening: removed entirely
    image = _textured(32, 32) * 0.5 + 0.25
    zeros = torch.zeros(1, 1, 32, 32)
    with torch.no_grad():
        next_image, _ = branch(image, zeros)
        assert (next_image - image).abs().max() < 1e-4
        head = branch.net.head[0]
        head.weight[2:].normal_(0.0, 0.5)  # a residual that varies over the image
        field, residual = branch.motion(image, zeros)
        next_image, _ = branch(image, zeros)
    assert residual.abs().max() <= 2 * MAX_RESIDUAL
    assert residual.abs().max() > 1e-3
    assert residual.mean(dim=(2, 3)).abs().max() < 1e-6  # zero mean per channel
    assert (next_image.mean(dim=(2, 3)) - image.mean(dim=(2, 3))).abs().max() < 1e-4


def test_l_i_teaches_the_field_the_real_motion():
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny", **WARP))
    frames = torch.cat([torch.roll(_textured(32, 32, seed=s), 1, dims=3) for s in range(4)])
    before = torch.cat([_textured(32, 32, seed=s) for s in range(4)])
    zeros = torch.zeros(4, 1, 32, 32)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        pred, _ = model(before, zeros, frames)
        loss = (pred - frames).pow(2).mean()
        first = float(loss) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss) < 0.5 * first
    with torch.no_grad():
        field = image_field(model, before, zeros)[..., 4:-4, 4:-4]
    assert float(field[:, 0].mean()) < -0.3  # content moved right: sources lie to the left


def test_config_field_defaults_to_direct_and_names_what_warp_needs():
    assert generator_config("tiny").image_head == "direct"  # older checkpoints load as trained
    with pytest.raises(ValueError, match="image_head: unsupported value 'paint'"):
        generator_config("tiny", image_head="paint").validate()
    with pytest.raises(ValueError, match="image_head: 'warp' needs next_frame_input=True"):
        generator_config("tiny", next_frame_input=True, mask_head="warp", image_head="warp")
    with pytest.raises(ValueError, match="image_residual: only meaningful with image_head"):
        generator_config("tiny", image_residual=True, **WARP)


def test_onnx_export_keeps_the_mask_outputs_adds_the_field_and_dynamic_sizes(tmp_path):
    """The exporter re-runs the trace at another size and checks the graph (onnx checker);
    onnxruntime runs the file in packages/inference/src/still-to-video.test.ts."""
    import onnx

    from stillmotion_trainer.export.onnx_export import export_generator

    model = _model("realtime")
    _set_head(model.image_model, fx=1.5, fy=-0.5, r=0.02)
    report = export_generator(model, model.cfg, str(tmp_path / "g.onnx"))
    proto = onnx.load(report["onnx"])
    assert proto.opset_import[0].version == 16  # GridSample
    assert [o.name for o in proto.graph.output] == [
        "next_image", "next_mask", "next_mask_motion", "next_field", "next_residual"
    ]  # fmt: skip
    # the field outputs are the branch's own run, not a second one: as many sigmoid heads
    # (image branch, mask correction) as the mask-only graph, whose motion mask needs the branch
    assert sum(n.op_type == "Sigmoid" for n in proto.graph.node) == 2
    assert (
        sum(n.op_type == "Sigmoid" for n in onnx.load(_mask_only(model, tmp_path)).graph.node) == 2
    )
    assert sum(n.op_type == "GridSample" for n in proto.graph.node) >= 3  # image, mask, warp head


def _mask_only(model: nn.Module, tmp_path) -> str:
    from stillmotion_trainer.export.onnx_export import export_generator

    return export_generator(model, model.cfg, str(tmp_path / "m.onnx"), mask_only=True)["onnx"]


def test_split_export_refuses_the_warp_image_head(tmp_path):
    from stillmotion_trainer.export.split_export import export_split

    model = _model()
    with pytest.raises(ValueError, match="split: a model with image_head 'warp'"):
        export_split(model, model.cfg, str(tmp_path / "g.onnx"))
