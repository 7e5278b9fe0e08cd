"""Split ONNX export: a features graph embedded in the step graph's file, both checked, and
features + step computing the single model's masks (export/split_export.py). Parity through
onnxruntime is proved on the Node side (packages/inference/src/propagate-split.test.ts)."""

import base64

import onnx
import pytest
import torch

from stillmotion_trainer.export.split_export import (
    FEATURES_GRAPH_KEY,
    LAYOUT_KEY,
    MASK_ONLY_KEY,
    export_split,
)
from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.models.warp import MATCHERS


def _warp_model(refine: bool, seed: int = 0, matcher: str = "narrow"):
    cfg = generator_config(
        "tiny",
        next_frame_input=True,
        mask_head="warp",
        mask_refine=refine,
        channels=3,
        matcher=matcher,
    )
    torch.manual_seed(seed)
    model = build_generator(cfg)
    if refine:  # the correction starts at zero; randomise it so the check sees it work
        with torch.no_grad():
            for p in model.refine_net.parameters():
                p.add_(0.1 * torch.randn_like(p))
    return model.eval(), cfg


@pytest.mark.parametrize(
    ("refine", "matcher"),
    [(True, "narrow"), (False, "narrow"), (True, "wide"), (True, "wide-grey"), (True, "wide-half")],
)
def test_split_export_writes_step_graph_with_its_features_graph(tmp_path, refine, matcher):
    model, cfg = _warp_model(refine, matcher=matcher)
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


def test_split_export_refuses_a_model_without_warp_head(tmp_path):
    cfg = generator_config("tiny", next_frame_input=True, mask_head="conv")
    with pytest.raises(ValueError, match="warp mask head.*without --split"):
        export_split(build_generator(cfg), cfg, str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_split_export_refuses_reserved_metadata(tmp_path):
    model, cfg = _warp_model(refine=True)
    with pytest.raises(ValueError, match="reserved"):
        export_split(model, cfg, str(tmp_path / "m.onnx"), {"layout": "single"})
