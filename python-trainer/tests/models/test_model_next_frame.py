"""G(I_t, M_t, I_{t+1}) (models/next_frame.py, models/warp.py) and the residual heads."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stillmotion_trainer.export.onnx_export import export_generator
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.next_frame import collapse_guard, generation_step
from stillmotion_trainer.models.warp import (
    MATCHERS,
    MOTION_PRIOR,
    DisplacementEstimator,
    displacements,
    normalise,
    warp,
)


def _textured(seed: int, h: int = 48, w: int = 48) -> torch.Tensor:
    """A smooth random texture (1, 3, H, W) in [0, 1], enough structure to match."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 6, w // 6, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic").clamp(0, 1)


def test_warp_with_zero_flow_is_identity_and_integer_flow_shifts():
    x = torch.rand(2, 1, 9, 11)
    assert torch.allclose(warp(x, torch.zeros(2, 2, 9, 11)), x, atol=1e-6)
    flow = torch.zeros(2, 2, 9, 11)
    flow[:, 0] = 2.0  # out(p) = x(p + (2, 0)): content moves 2 pixels left
    out = warp(x, flow)
    assert torch.allclose(out[..., :, :-2], x[..., :, 2:], atol=1e-6)
    assert torch.all(out[..., :, -2:] == 0)  # outside the frame reads zero (the lesion left)


def test_normalise_gives_zero_mean_unit_variance_per_channel():
    x = torch.rand(2, 3, 8, 8) * 5 + 2
    y = normalise(x)
    assert torch.allclose(y.mean(dim=(2, 3)), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), torch.ones(2, 3), atol=1e-3)


def test_untrained_displacement_estimator_finds_a_known_shift():
    image = _textured(0)
    shifted = torch.roll(image, shifts=(3, -5), dims=(2, 3))  # content moves down 3, left 5
    flow = DisplacementEstimator(3)(image, shifted)  # frame t+1 -> t: (+5, -3)
    inner = flow[..., 12:-12, 12:-12].mean(dim=(2, 3))[0]
    assert abs(float(inner[0]) - 5) < 1.0 and abs(float(inner[1]) + 3) < 1.0


@pytest.mark.parametrize("matcher", ["narrow", "wide", "wide-half", "wide-grey", "wide-half-grey"])
def test_each_matcher_finds_a_shift_within_its_reach_and_only_wide_one_beyond_narrows(matcher):
    """A 40-pixel shift of a 128 px texture: beyond "narrow"'s reach (29 px), within "wide"'s
    (125 px), "wide-half"'s (124 px), "wide-grey"'s and "wide-half-grey"'s; a 12-pixel shift is
    within all."""
    image = _textured(1, 128, 128)
    for dx, within in ((12, True), (40, matcher != "narrow")):
        moved = torch.roll(image, shifts=(0, -dx), dims=(2, 3))  # content moves left dx
        flow = DisplacementEstimator(3, matcher)(image, moved)  # frame t+1 -> t: (+dx, 0)
        inner = flow[..., 48:-48, 16:-56].mean(dim=(2, 3))[0]
        found = abs(float(inner[0]) - dx) < 1.0 and abs(float(inner[1])) < 1.0
        assert found == within, (matcher, dx, inner.tolist())


def test_matcher_is_validated_and_kept_in_the_config():
    cfg = generator_config("tiny", next_frame_input=True, mask_head="warp", matcher="wide")
    assert len(build_generator(cfg).displacement.levels) == len(MATCHERS["wide"].levels)
    with pytest.raises(ValueError, match="matcher"):
        generator_config("tiny", next_frame_input=True, mask_head="warp", matcher="huge")
    with pytest.raises(ValueError, match="only meaningful with mask_head 'warp'"):
        generator_config("tiny", next_frame_input=True, mask_head="conv", matcher="wide")
    assert generator_config("tiny").matcher == "narrow"  # what checkpoints without it meant


def test_soft_argmin_is_the_softmax_weighted_mean_over_the_best_displacements_neighbours():
    """u = sum_{|d - d*| <= 1} softmax(-beta (c_d + prior |d|^2)) d with d* the arg-min, computed
    independently per pixel with torch.softmax over the selected displacements and an explicit
    sum (the module uses a one-hot, a 0/1 convolution, exp / sum and a 1x1 convolution, which
    export to plain ONNX ops)."""
    torch.manual_seed(0)
    est = DisplacementEstimator(3)
    for level, (_, radius) in enumerate(est.levels):
        d = displacements(radius)  # (D, 2)
        cost = torch.rand(2, d.shape[0], 5, 6) * 3
        beta = float(est.log_beta[level].exp())
        z = -beta * (cost + MOTION_PRIOR * (d**2).sum(1).view(1, -1, 1, 1))
        expected = torch.zeros(2, 2, 5, 6)
        for b in range(2):
            for y in range(5):
                for x in range(6):
                    best = d[int(z[b, :, y, x].argmax())]
                    near = (d - best).abs().amax(1) <= 1
                    w = torch.softmax(z[b, near, y, x], 0)
                    expected[b, :, y, x] = (w[:, None] * d[near]).sum(0)
        got = est._soft_argmin(cost, level)
        assert torch.allclose(got, expected, atol=1e-5), level


def test_soft_argmin_is_not_pulled_to_the_window_centre_by_a_flat_cost():
    """A clear minimum at d = (+3, 0) amid a flat, noisy cost surface (speckle): the whole-window
    softmax mean lands near the centre (the bias that made long ultrasound chains lose the
    mask); the local soft arg-min lands on the minimum."""
    est = DisplacementEstimator(1)
    d = displacements(3)
    torch.manual_seed(0)
    cost = 0.6 + 0.05 * torch.rand(1, d.shape[0], 4, 4)
    target = int(((d[:, 0] == 3) & (d[:, 1] == 0)).nonzero())
    cost[:, target] = 0.0
    beta = float(est.log_beta[0].exp())
    whole = torch.softmax(-beta * cost, 1)
    whole_mean_dx = float((whole * d[:, 0].view(1, -1, 1, 1)).sum(1).mean())
    got = est._soft_argmin(cost, 0)
    assert whole_mean_dx < 2.4  # the old formula's bias
    assert float(got[:, 0].mean()) > 2.5 and abs(float(got[:, 1].mean())) < 0.3


@pytest.mark.parametrize("head", ["warp", "conv"])
def test_image_branch_never_reads_the_next_frame(head):
    torch.manual_seed(0)
    g = build_generator(generator_config("tiny", next_frame_input=True, mask_head=head)).eval()
    image, mask = torch.rand(2, 3, 20, 24), torch.rand(2, 1, 20, 24)
    a_img, a_mask = g(image, mask, torch.rand(2, 3, 20, 24))
    b_img, b_mask = g(image, mask, torch.rand(2, 3, 20, 24))
    assert torch.equal(a_img, b_img)  # L_I still measures prediction, not copying
    assert not torch.equal(a_mask, b_mask)  # the mask branch does read it
    assert a_mask.shape == (2, 1, 20, 24) and float(a_mask.min()) >= 0 and float(a_mask.max()) <= 1


def test_next_frame_shape_mismatch_is_named():
    g = build_generator(generator_config("tiny", next_frame_input=True, mask_head="warp"))
    with pytest.raises(ValueError, match="next_frame: expected the shape of image"):
        g(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16), torch.rand(1, 3, 16, 8))


def test_warp_head_carries_the_mask_with_the_motion():
    image = _textured(1)
    mask = torch.zeros(1, 1, 48, 48)
    mask[..., 18:30, 18:30] = 1
    nxt = torch.roll(image, shifts=(0, 4), dims=(2, 3))  # content moves right 4
    g = build_generator(generator_config("tiny", next_frame_input=True, mask_head="warp")).eval()
    _, m = g(image, mask, nxt)
    cols = (m[0, 0] > 0.5).any(dim=0).nonzero().flatten()
    assert int(cols.min()) in (21, 22, 23) and int(cols.max()) in (32, 33, 34)


def test_residual_heads_start_near_copying_the_input():
    torch.manual_seed(0)
    cfg = generator_config("tiny", image_residual=True, mask_residual=True)
    g = build_generator(cfg).eval()
    image, mask = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) > 0.5).float()
    nxt_img, nxt_mask = g(image, mask)
    assert float((nxt_img - image).abs().mean()) < 0.1
    assert float((nxt_mask - mask).abs().mean()) < 0.1


def test_mask_refine_starts_as_the_plain_warp_and_learns_a_correction():
    """Zero-initialised correction: untrained, warp + refine = warp; after a few steps towards
    a target the warped mask alone cannot reach, the correction moves the mask there."""
    torch.manual_seed(0)
    cfg = generator_config("tiny", next_frame_input=True, mask_head="warp", mask_refine=True)
    g = build_generator(cfg)
    plain = build_generator(dataclasses.replace(cfg, mask_refine=False))
    plain.load_state_dict(g.state_dict(), strict=False)  # the same warp, no refine net
    image, nxt = _textured(1, 16, 16), _textured(1, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:10, 4:10] = 1
    with torch.no_grad():
        assert torch.allclose(g(image, mask, nxt)[1], plain(image, mask, nxt)[1], atol=1e-6)
    target = torch.zeros_like(mask)
    target[..., 6:12, 6:12] = 1
    opt = torch.optim.Adam(g.refine_net.parameters(), lr=3e-2)
    before = float((g(image, mask, nxt)[1] - target).abs().mean())
    for _ in range(60):
        loss = (g(image, mask, nxt)[1] - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.9 * before
    with pytest.raises(ValueError, match="mask_refine: true needs mask_head 'warp'"):
        generator_config("tiny", next_frame_input=True, mask_head="conv", mask_refine=True)


def test_refine_width_sizes_the_correction_and_is_checked():
    """refine_width sets the correction's base width (default: half of base_width); it needs
    mask_refine and an integer >= 2."""
    base = dict(next_frame_input=True, mask_head="warp", mask_refine=True)
    default = build_generator(generator_config("tiny", **base))
    wide = build_generator(generator_config("tiny", refine_width=8, **base))
    assert default.refine_net.encoder.stem[0].out_channels == 2  # tiny: base_width 4 // 2
    assert wide.refine_net.encoder.stem[0].out_channels == 8
    image, nxt, mask = _textured(1, 16, 16), _textured(1, 16, 16), torch.zeros(1, 1, 16, 16)
    assert wide(image, mask, nxt)[1].shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="refine_width: expected None or an integer >= 2"):
        generator_config("tiny", refine_width=1, **base)
    with pytest.raises(ValueError, match="refine_width: only meaningful with mask_refine"):
        generator_config("tiny", next_frame_input=True, mask_head="warp", refine_width=8)


def _bilinear_up2(x: np.ndarray) -> np.ndarray:
    """(H, W) -> (2H, 2W) bilinear, half-pixel centres (align_corners False), by hand: output
    pixel i samples source coordinate (i + 0.5) / 2 - 0.5, clamped to the edge."""
    h, w = x.shape

    def taps(n: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = np.clip((np.arange(n) + 0.5) / 2 - 0.5, 0, None)
        lo = np.minimum(np.floor(c).astype(int), size - 1)
        return lo, np.minimum(lo + 1, size - 1), c - lo

    y0, y1, fy = taps(2 * h, h)
    x0, x1, fx = taps(2 * w, w)
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bottom = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def test_run_downscaled_is_pad_pool_net_upsample_crop():
    """blocks.run_downscaled against a numpy computation of its formula at an odd size: edge
    padding to a multiple of scale * multiple, 2x2 block means, the net, bilinear 2x, crop."""
    from stillmotion_trainer.models.blocks import run_downscaled, run_padded

    x = torch.rand(1, 2, 13, 22, generator=torch.Generator().manual_seed(4))
    net = torch.nn.Conv2d(2, 1, 3, padding=1)
    with torch.no_grad():
        got = run_downscaled(net, x, 2, 4)[0, 0].numpy()
        padded = np.pad(x[0].numpy(), ((0, 0), (0, 3), (0, 2)), mode="edge")  # 16 x 24
        pooled = padded.reshape(2, 8, 2, 12, 2).mean(axis=(2, 4))
        small = net(torch.from_numpy(pooled)[None])[0, 0].numpy()
        assert torch.equal(run_downscaled(net, x, 1, 4), run_padded(net, x, 4))
    want = _bilinear_up2(small)[:13, :22]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_refine_scale_runs_the_correction_on_the_half_size_frame_and_mask():
    """refine_scale 2: the same weights; the correction's s is the network on [I, W] pooled 2x,
    upsampled; scale 1 is the full-size correction. Checked like the other fields."""
    base = dict(next_frame_input=True, mask_head="warp", mask_refine=True, collapse_guard=0.0)
    torch.manual_seed(0)
    full = build_generator(generator_config("tiny", **base)).eval()
    with torch.no_grad():
        for p in full.refine_net.parameters():
            p.add_(torch.randn_like(p))  # a correction that varies across the frame
    half = build_generator(generator_config("tiny", refine_scale=2, **base)).eval()
    half.load_state_dict(full.state_dict())  # the same parameters
    nxt, warped = _textured(2, 32, 32), torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        small = torch.nn.functional.avg_pool2d(torch.cat([nxt, warped], 1), 2)
        s = torch.nn.functional.interpolate(
            full.refine_net(small), scale_factor=2, mode="bilinear", align_corners=False
        )
        want = (warped + 2 * s - 1).clamp(0, 1)
        torch.testing.assert_close(half.correct(nxt, warped), want)
        assert not torch.allclose(full.correct(nxt, warped), want, atol=1e-3)
    with pytest.raises(ValueError, match="refine_scale: unsupported value 4"):
        generator_config("tiny", refine_scale=4, **base)
    with pytest.raises(ValueError, match="refine_scale: only meaningful with mask_refine"):
        generator_config("tiny", next_frame_input=True, mask_head="warp", refine_scale=2)


def test_collapse_guard_keeps_the_carried_mask_only_where_the_correction_erased_it():
    """Per sample, checked against a loop over the definition: the carried mask where it covers
    more than half a pixel and the corrected one keeps less than `fraction` of its area."""
    rng = np.random.default_rng(0)
    carried = rng.random((6, 1, 8, 8)).astype(np.float32)
    carried[4] = 0.004  # 0.256 px in all: too little to guard
    corrected = carried * np.array([1.0, 0.3, 0.2, 0.0, 0.0, 1.5], np.float32)[:, None, None, None]
    out = collapse_guard(torch.from_numpy(corrected), torch.from_numpy(carried), 0.25).numpy()
    for b in range(6):
        keep_carried = carried[b].sum() > 0.5 and corrected[b].sum() < 0.25 * carried[b].sum()
        assert np.array_equal(out[b], carried[b] if keep_carried else corrected[b]), b
    assert [np.array_equal(out[b], carried[b]) for b in range(6)] == [
        True,  # corrected == carried
        False,
        True,
        True,
        False,
        False,
    ]


def test_collapse_guard_acts_at_inference_only_and_is_checked():
    """A correction that erases every mask: in eval the guarded model returns the carried mask
    (its ONNX export does the same in onnxruntime: packages/inference/src/parity.test.ts); while
    the correction trains (adaptation, the training loop) or with collapse_guard 0 the erased
    mask comes back."""
    torch.manual_seed(0)
    base = dict(next_frame_input=True, mask_head="warp", mask_refine=True)
    g = build_generator(generator_config("tiny", **base))
    with torch.no_grad():
        g.refine_net.head.conv.bias.fill_(-20.0)  # s = 0: W + 2 s - 1 = W - 1 -> 0 everywhere
    image, nxt = _textured(1, 16, 16), _textured(1, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:10, 4:10] = 1
    with torch.no_grad():
        _, guarded, carried = g.eval().forward_with_motion(image, mask, nxt)
        assert float(carried.sum()) > 10 and torch.equal(guarded, carried)
        assert float(g.train()(image, mask, nxt)[1].sum()) == 0.0
        off = build_generator(generator_config("tiny", collapse_guard=0.0, **base))
        off.load_state_dict(g.state_dict())
        assert float(off.eval()(image, mask, nxt)[1].sum()) == 0.0
    with pytest.raises(ValueError, match=r"collapse_guard: expected a number in \[0, 1\)"):
        generator_config("tiny", collapse_guard=1.0, **base)


def test_export_has_the_next_frame_input_and_opset_16_for_warp(tmp_path):
    import onnx

    cfg = generator_config("tiny", next_frame_input=True, mask_head="warp")
    g = build_generator(cfg)
    report = export_generator(g, cfg, str(tmp_path / "g.onnx"))
    assert report["inputs"] == ["image", "mask", "next_frame"] and report["opset"] == 16
    proto = onnx.load(report["onnx"])
    assert any(n.op_type == "GridSample" for n in proto.graph.node)
    with pytest.raises(ValueError, match="opset: expected >= 16"):
        export_generator(g, cfg, str(tmp_path / "h.onnx"), opset=13)


def test_generation_step_uses_the_predicted_frame_as_the_next_frame():
    torch.manual_seed(0)
    cfg = generator_config("tiny", next_frame_input=True, mask_head="warp", image_residual=True)
    g = build_generator(cfg).eval()
    image, mask = torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        img, m = generation_step(g, image, mask)
        expected_img, _ = g(image, mask, image)
        _, expected_mask = g(image, mask, expected_img)
    assert torch.equal(img, expected_img) and torch.equal(m, expected_mask)
    literal = build_generator(dataclasses.replace(cfg, next_frame_input=False, mask_head="conv"))
    with torch.no_grad():
        out = generation_step(literal.eval(), image, mask)
    assert out[0].shape == image.shape and np.isfinite(out[1].numpy()).all()


def test_still_to_video_follows_the_motion_without_the_refine_correction(tmp_path):
    """generation_step feeds back the motion mask (the warp alone), not mask_refine's corrected
    mask, and the export carries it as a third output `next_mask_motion`."""
    torch.manual_seed(0)
    cfg = generator_config("tiny", next_frame_input=True, mask_head="warp", mask_refine=True)
    g = build_generator(cfg).eval()
    with torch.no_grad():
        for p in g.get_submodule("refine_net.head").parameters():
            p.normal_(0.0, 0.3)  # a correction that visibly changes the mask
    image, mask = _textured(2, 16, 16), torch.zeros(1, 1, 16, 16)
    mask[..., 4:10, 4:10] = 1
    with torch.no_grad():
        next_image, next_mask = generation_step(g, image, mask)
        _, refined, motion = g.forward_with_motion(image, mask, next_image)
    assert torch.equal(next_mask, motion) and not torch.allclose(motion, refined, atol=1e-3)
    assert torch.equal(next_image, g(image, mask, image)[0])
    report = export_generator(g, cfg, str(tmp_path / "g.onnx"), sample_size=(16, 16))
    assert report["outputs"] == ["next_image", "next_mask", "next_mask_motion"]
    plain = dataclasses.replace(cfg, mask_refine=False)
    report = export_generator(
        build_generator(plain), plain, str(tmp_path / "p.onnx"), sample_size=(16, 16)
    )
    assert report["outputs"] == ["next_image", "next_mask"]


@pytest.mark.parametrize("window", [3, 5])
def test_window_mean_is_avg_pool_without_padding_counted_and_the_export_path_agrees(window):
    """warp.window_mean along H and W equals F.avg_pool2d (count_include_pad False) bit for bit,
    cost_volume traced equals it eager bit for bit, and its export pools the window in one
    k x k AveragePool that does not count the padding."""
    import io
    import warnings

    import onnx

    from stillmotion_trainer.models.warp import cost_volume, window_mean

    x = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(5))
    half = window // 2
    for dim, kernel, padding in [(2, (window, 1), (half, 0)), (3, (1, window), (0, half))]:
        want = F.avg_pool2d(x, kernel, stride=1, padding=padding, count_include_pad=False)
        assert torch.equal(window_mean(x, window, dim), want)
    ref, other = torch.rand(1, 2, 9, 11), torch.rand(1, 2, 9, 11)
    traced = torch.jit.trace(lambda a, b: cost_volume(a, b, 1, window), (ref, other))
    assert torch.equal(traced(ref, other), cost_volume(ref, other, 1, window))

    class Cost(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return cost_volume(a, b, 1, window)

    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Cost(), (ref, other), buffer, opset_version=16)
    pools = [n for n in onnx.load_from_string(buffer.getvalue()).graph.node if "Pool" in n.op_type]
    assert [p.op_type for p in pools] == ["AveragePool"]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in pools[0].attribute}
    assert attributes == {
        "kernel_shape": [window, window],
        "strides": [1, 1],
        "pads": [half] * 4,
        "count_include_pad": 0,
    }


@pytest.mark.parametrize(("radius", "window"), [(1, 3), (2, 5)])
def test_cost_volume_is_the_in_frame_window_mean_of_squared_differences(radius, window):
    """c_d(x) = mean over the window's in-frame pixels q of mean_c (ref(q) - other(q + d))^2,
    other's edge pixels repeated beyond the frame: computed pixel by pixel with loops (the
    module pools rows then columns)."""
    from stillmotion_trainer.models.warp import cost_volume

    g = torch.Generator().manual_seed(3)
    ref, other = torch.rand(1, 2, 6, 7, generator=g), torch.rand(1, 2, 6, 7, generator=g)
    got = cost_volume(ref, other, radius, window)
    h, w, half = 6, 7, window // 2
    clamp = lambda v, n: min(max(v, 0), n - 1)  # noqa: E731
    d_index = 0
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            for y in range(h):
                for x in range(w):
                    values = []
                    for qy in range(max(0, y - half), min(h, y + half + 1)):
                        for qx in range(max(0, x - half), min(w, x + half + 1)):
                            o = other[0, :, clamp(qy + dy, h), clamp(qx + dx, w)]
                            values.append(float((ref[0, :, qy, qx] - o).pow(2).mean()))
                    want = sum(values) / len(values)
                    assert abs(float(got[0, d_index, y, x]) - want) < 1e-6, (dy, dx, y, x)
            d_index += 1


def test_the_matchers_paths_without_autograd_give_the_recorded_paths_numbers():
    """Without autograd recording (a frozen matcher's training pass, inference), cost_volume,
    shifted_sum and the soft arg-min write in place and skip padded copies (issue L): bit for
    bit the numbers of the paths autograd records (inputs that require grad); and
    spread_to_neighbours (a 0/1 1x1 convolution on a channels-last copy) is F.conv2d's."""
    from stillmotion_trainer.models.warp import cost_volume, neighbours, spread_to_neighbours
    from stillmotion_trainer.sliding import shifted_sum

    g = torch.Generator().manual_seed(11)
    ref, other = torch.rand(2, 3, 13, 17, generator=g), torch.rand(2, 3, 13, 17, generator=g)
    for radius, window in [(1, 3), (2, 5)]:
        recorded = cost_volume(ref.requires_grad_(), other, radius, window)
        assert recorded.requires_grad
        with torch.no_grad():
            assert torch.equal(cost_volume(ref, other, radius, window), recorded)
        ref = ref.detach()
    with torch.no_grad():  # mixed precision (CUDA autocast: fp16 features, fp32 warped ones)
        mixed = cost_volume(ref.bfloat16(), other, 1, 3)
    assert mixed.dtype == torch.float32
    assert torch.equal(mixed, cost_volume(ref.bfloat16().requires_grad_(), other, 1, 3))
    x = torch.rand(2, 4, 9, 11, generator=g)
    for weights in ([1.0] * 5, [0.1, 0.4, 1.0, 0.4, 0.1], [0.2] * 13):  # 13 taps: wider than H
        for dim in (2, 3):
            recorded = shifted_sum(x.clone().requires_grad_(), weights, dim)
            assert torch.equal(shifted_sum(x, weights, dim), recorded), (weights, dim)
    est = DisplacementEstimator(3, matcher="wide")
    for level, (_, radius) in enumerate(est.levels):
        cost = torch.rand(2, (2 * radius + 1) ** 2, 6, 7, generator=g)
        recorded = est._soft_argmin(cost, level)
        assert recorded.requires_grad  # log_beta is trained
        with torch.no_grad():
            assert torch.equal(est._soft_argmin(cost.clone(), level), recorded), level
            half = est._soft_argmin(cost.bfloat16(), level)  # promoted, not computed in bf16
        assert half.dtype == torch.float32
        assert torch.equal(half, est._soft_argmin(cost.bfloat16(), level))
    window = neighbours(displacements(2))  # (25, 25, 1, 1)
    best = (torch.rand(2, 25, 8, 10, generator=g) > 0.8).float()  # ties: several ones a pixel
    assert torch.equal(spread_to_neighbours(best, window), F.conv2d(best, window) > 0)
