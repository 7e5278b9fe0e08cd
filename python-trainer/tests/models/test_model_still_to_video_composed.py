"""Composed still -> video (models/still_to_video.py): the fields compose as maps, the still is
sampled once per frame, the motion strength scales each step inside the frame, and the warp
image head's export carries the field and residual of the run that made next_image."""

import numpy as np
import pytest
import torch

from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models import still_to_video as s2v
from stillmotion_trainer.models.detail_sampling import sample_detailed, split_detail

WARP = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")


def _affine_field(h: int, w: int, a: float, b: float) -> torch.Tensor:
    """u(p) = (a x + b, -a y + b / 2): affine, so bilinear interpolation of it is exact."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")  # fmt: skip
    return torch.stack([a * xs + b, -a * ys + b / 2])[None]  # (1, 2, H, W)


def test_two_steps_compose_as_maps():
    h, w = 24, 32
    still = torch.rand(1, 3, h, w)
    mask = (torch.rand(1, 1, h, w) > 0.5).float()
    u0 = _affine_field(h, w, 0.02, 0.5)
    u1 = torch.tensor([-0.75, 0.25]).view(1, 2, 1, 1).expand(1, 2, h, w)
    state = s2v.compose(s2v.compose(s2v.start(still, mask), u0, 0 * still), u1, 0 * still)
    # Phi_2(p) = u1 + u0(p + u1), evaluated in closed form
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    qx, qy = xs - 0.75, ys + 0.25
    expected = np.stack([-0.75 + 0.02 * qx + 0.5, 0.25 - 0.02 * qy + 0.25])
    inner = (slice(None), slice(3, -3), slice(3, -3))
    assert np.abs(state.field[0].numpy() - expected)[inner].max() < 1e-5
    assert torch.equal(state.step, u1)


def test_the_residual_is_carried_and_summed():
    h, w = 16, 20
    still = torch.full((1, 1, h, w), 0.5)
    r = torch.full((1, 1, h, w), 0.01)
    state = s2v.start(still, torch.zeros(1, 1, h, w))
    for _ in range(3):
        state = s2v.compose(state, torch.zeros(1, 2, h, w), r)
    assert torch.allclose(state.residual, torch.full_like(r, 0.03))
    assert torch.allclose(state.image, torch.full_like(still, 0.53))


def test_strength_scales_the_step_and_keeps_sources_in_the_frame():
    h, w = 10, 12
    u = torch.zeros(1, 2, h, w)
    u[:, 0] = 1.5  # every source 1.5 px to the right
    v = s2v.scale_field(u, 2.0)
    xs = torch.arange(w, dtype=torch.float32)
    assert torch.allclose(v[0, 0, 0], (xs + 3.0).clamp(max=w - 1) - xs)
    assert torch.equal(v[:, 1], u[:, 1])
    assert s2v.scale_field(u, 1.0) is u


def test_a_model_without_the_warp_image_head_is_refused():
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny")).eval()
    state = s2v.start(torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16))
    with pytest.raises(s2v.StillToVideoError, match=r"image_head is 'direct', expected 'warp'"):
        s2v.composed_step(model, state)
    torch.manual_seed(0)
    warp_model = build_generator(generator_config("tiny", **WARP)).eval()
    with pytest.raises(s2v.StillToVideoError, match=r"strength: expected a number > 0, got 0"):
        s2v.composed_step(warp_model, state, strength=0)


def test_an_untrained_head_keeps_the_still():
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny", **WARP)).eval()
    still, mask = torch.rand(1, 3, 20, 28), (torch.rand(1, 1, 20, 28) > 0.5).float()
    state = s2v.start(still, mask)
    for _ in range(3):
        state = s2v.composed_step(model, state, strength=2.0)
    assert (state.image - still).abs().max() < 1e-5
    assert (state.mask - mask).abs().max() < 1e-5


def test_the_residual_scale_multiplies_each_steps_residual():
    torch.manual_seed(0)
    model = build_generator(generator_config("tiny", **WARP)).eval()
    with torch.no_grad():  # a non-zero field and residual
        for p in model.image_model.net.head.parameters():
            p.normal_(0.0, 0.3)
    still, mask = torch.rand(1, 3, 20, 28), (torch.rand(1, 1, 20, 28) > 0.5).float()
    full = s2v.composed_step(model, s2v.start(still, mask))
    half = s2v.composed_step(model, s2v.start(still, mask), residual=0.5)
    none = s2v.composed_step(model, s2v.start(still, mask), residual=0.0)
    assert float(full.residual.abs().max()) > 1e-3
    assert torch.allclose(half.residual, 0.5 * full.residual, atol=1e-7)
    assert torch.equal(none.residual, torch.zeros_like(still))
    # residual 0: the frame is the still sampled at the composed map, nothing added
    moved = sample_detailed(still, split_detail(still, 1.0), none.field).clamp(0, 1)
    assert torch.allclose(none.image, moved, atol=1e-6)
    assert torch.equal(none.field, full.field)
    with pytest.raises(s2v.StillToVideoError, match=r"residual: expected a number >= 0, got -1"):
        s2v.composed_step(model, s2v.start(still, mask), residual=-1.0)


def test_export_outputs_the_field_and_residual_of_the_same_run(tmp_path):
    from stillmotion_trainer.export.onnx_export import WithMotionMask, export_generator

    cfg = generator_config("tiny", **WARP)
    torch.manual_seed(0)
    model = build_generator(cfg).eval()
    with torch.no_grad():  # a non-zero field and residual
        for p in model.image_model.net.head.parameters():
            p.normal_(0.0, 0.3)
    image, mask = torch.rand(2, 3, 24, 40), torch.rand(2, 1, 24, 40)
    with torch.no_grad():
        out = WithMotionMask(model, field=True)(image, mask, image)
        field, residual = model.image_model.motion(image, mask)
        plain = model.forward_with_motion(image, mask, image)
    assert len(out) == 5
    for a, b in zip(out, plain + (field, residual)):
        assert torch.equal(a, b)
    assert float(field.abs().max()) > 0.1
    report = export_generator(model, cfg, str(tmp_path / "g.onnx"), sample_size=(32, 32))
    assert report["outputs"] == [
        "next_image", "next_mask", "next_mask_motion", "next_field", "next_residual"
    ]  # fmt: skip
    masks = export_generator(model, cfg, str(tmp_path / "m.onnx"), mask_only=True)
    assert masks["outputs"] == ["next_mask", "next_mask_motion"]
