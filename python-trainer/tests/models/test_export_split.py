"""Split ONNX export: a features graph (and the step cut into motion and carry graphs) embedded in
the step graph's file, all checked, and features + step (or + motion + carry) computing the
single model's masks (export/split_export.py). Parity through
onnxruntime is proved on the Node side (packages/inference/src/propagate-split.test.ts)."""

import base64

import onnx
import pytest
import torch

from stillmotion_trainer.export.split_export import (
    CARRY_GRAPH_KEY,
    FEATURES_GRAPH_KEY,
    LAYOUT_KEY,
    MASK_ONLY_KEY,
    MOTION_GRAPH_KEY,
    CarryGraph,
    FeaturesGraph,
    MotionGraph,
    StepGraph,
    export_split,
)
from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.models.warp import MATCHERS


def _warp_model(refine: bool, seed: int = 0, matcher: str = "narrow", refine_scale: int = 1):
    cfg = generator_config(
        "tiny",
        next_frame_input=True,
        mask_head="warp",
        mask_refine=refine,
        channels=3,
        matcher=matcher,
        refine_scale=refine_scale,
    )
    torch.manual_seed(seed)
    model = build_generator(cfg)
    if refine:  # the correction starts at zero; randomise it so the check sees it work
        with torch.no_grad():
            for p in model.refine_net.parameters():
                p.add_(0.1 * torch.randn_like(p))
    return model.eval(), cfg


@pytest.mark.parametrize(
    ("refine", "matcher", "refine_scale"),
    [
        (True, "narrow", 1),
        (False, "narrow", 1),
        (True, "wide", 1),
        (True, "wide-grey", 1),
        (True, "wide-half", 1),
        (True, "wide-half", 2),
        (True, "wide-half-grey", 2),
    ],
)
def test_split_export_writes_step_graph_with_its_features_graph(
    tmp_path, refine, matcher, refine_scale
):
    model, cfg = _warp_model(refine, matcher=matcher, refine_scale=refine_scale)
    report = export_split(model, cfg, str(tmp_path / "m.onnx"), {"preset": "tiny"})
    assert report["checks"][0] == "torch_split_equals_single"
    proto = onnx.load(report["onnx"])
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta[LAYOUT_KEY] == "split" and meta[MASK_ONLY_KEY] == "true"
    levels = [f"features_s{stride}" for stride, _ in model.displacement.levels]
    assert [v.name for v in proto.graph.input] == [
        *levels,
        *(f"next_{n}" for n in levels),
        "next_frame",
        "mask",
    ]
    expected_out = ["next_mask", "next_mask_motion"] if refine else ["next_mask"]
    assert [v.name for v in proto.graph.output] == expected_out
    features = onnx.load_from_string(base64.b64decode(meta[FEATURES_GRAPH_KEY]))
    onnx.checker.check_model(features)
    assert [v.name for v in features.graph.input] == ["image"]
    assert [v.name for v in features.graph.output] == levels
    # C + 4 channels per learned level, 1 at a grey one (declared, and what shape inference says)
    widths = [o.type.tensor_type.shape.dim[1].dim_value for o in features.graph.output]
    assert widths == [1 if not learned else 3 + 4 for learned in MATCHERS[matcher].learned()]
    # the features graph holds only the embeddings: a few hundred parameters, not the model
    assert report["features_bytes"] < 40_000
    # the step cut where the mask enters: motion (no mask) -> motion_s<finest stride> -> carry
    finest = f"motion_s{model.displacement.levels[-1][0]}"
    motion = onnx.load_from_string(base64.b64decode(meta[MOTION_GRAPH_KEY]))
    carry = onnx.load_from_string(base64.b64decode(meta[CARRY_GRAPH_KEY]))
    for graph in (motion, carry):
        onnx.checker.check_model(graph)
    assert [v.name for v in motion.graph.input] == [v.name for v in proto.graph.input][:-2]
    assert [v.name for v in motion.graph.output] == [finest]
    assert motion.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 2
    assert [v.name for v in carry.graph.input] == [finest, "next_frame", "mask"]
    assert [v.name for v in carry.graph.output] == expected_out
    assert not any(k in report["metadata"] for k in (MOTION_GRAPH_KEY, CARRY_GRAPH_KEY))


@pytest.mark.parametrize(
    ("matcher", "refine_scale"),
    [("wide-grey", 1), ("wide-half", 1), ("wide-half", 2), ("wide-half-grey", 2)],
)
def test_motion_then_carry_is_the_step(matcher, refine_scale):
    """carry(motion(features)) == step(features) exactly (the same operations in eager PyTorch),
    at an odd size where the finest level of wide-half is ceil(H / 2) x ceil(W / 2) (and the
    half-size correction pads to an even size)."""
    model, _ = _warp_model(refine=True, seed=3, matcher=matcher, refine_scale=refine_scale)
    frame, next_frame = torch.rand(2, 3, 37, 45), torch.rand(2, 3, 37, 45)
    mask = torch.rand(2, 1, 37, 45)
    with torch.no_grad():
        feats, next_feats = FeaturesGraph(model)(frame), FeaturesGraph(model)(next_frame)
        level = MotionGraph(model)(*feats, *next_feats)
        stride = model.displacement.levels[-1][0]
        assert level.shape == (2, 2, -(-37 // stride), -(-45 // stride))
        step = StepGraph(model)(*feats, *next_feats, next_frame, mask)
        carried = CarryGraph(model)(level, next_frame, mask)
    for a, b in zip(step, carried):
        assert torch.equal(a, b)


def test_split_export_refuses_a_model_without_warp_head(tmp_path):
    cfg = generator_config("tiny", next_frame_input=True, mask_head="conv")
    with pytest.raises(ValueError, match="warp mask head.*without --split"):
        export_split(build_generator(cfg), cfg, str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_split_export_refuses_reserved_metadata(tmp_path):
    model, cfg = _warp_model(refine=True)
    with pytest.raises(ValueError, match="reserved"):
        export_split(model, cfg, str(tmp_path / "m.onnx"), {"layout": "single"})
