"""ONNX export: every variant passes the checker, metadata and dynamic axes are in the file."""

import dataclasses
import json
import os

import onnx
import pytest
import torch

from stillmotion_trainer.export.checkpoint_export import CheckpointError, export_checkpoint
from stillmotion_trainer.export.onnx_export import (
    METADATA_KEYS,
    ExportError,
    check_onnx_model,
    config_hash,
    export_generator,
)
from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.training.checkpoint import Checkpoint


def _tiny(seed: int = 0, **overrides):
    cfg = generator_config("tiny", **overrides)
    torch.manual_seed(seed)
    return build_generator(cfg), cfg


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("variant", ["shared", "separate"])
@pytest.mark.parametrize("decoder", ["upsample", "transposed"])
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_each_variant_exports_and_passes_the_checker(tmp_path, variant, decoder, stem_stride):
    model, cfg = _tiny(variant=variant, decoder=decoder, channels=1, stem_stride=stem_stride)
    report = export_generator(model, cfg, str(tmp_path / "g.onnx"), {"preset": "tiny"})
    assert report["checks"] == [
        "torch_trace_rerun",
        "onnx.checker",
        "shape_inference",
        "io_contract",
    ]
    proto = onnx.load(report["onnx"])
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 13


def test_io_names_and_dynamic_axes(tmp_path):
    model, cfg = _tiny()
    proto = onnx.load(export_generator(model, cfg, str(tmp_path / "g.onnx"))["onnx"])
    inputs = {v.name: _dims(v) for v in proto.graph.input}
    outputs = {v.name: _dims(v) for v in proto.graph.output}
    assert inputs == {
        "image": ["batch", 3, "height", "width"],
        "mask": ["batch", 1, "height", "width"],
    }
    assert outputs == {
        "next_image": ["batch", 3, "height", "width"],
        "next_mask": ["batch", 1, "height", "width"],
    }


@pytest.mark.parametrize("refine", [False, True])
def test_mask_only_export_drops_next_image_and_the_image_branch(tmp_path, refine):
    """mask_only: outputs next_mask [, next_mask_motion] only, and no node of the image branch
    is left in the graph (onnxruntime runs every node, fetched or not)."""
    overrides = dict(next_frame_input=True, mask_head="warp", mask_refine=refine)
    model, cfg = _tiny(**overrides)
    full = onnx.load(export_generator(model, cfg, str(tmp_path / "full.onnx"))["onnx"])
    report = export_generator(model, cfg, str(tmp_path / "masks.onnx"), mask_only=True)
    masks = onnx.load(report["onnx"])
    expected = ["next_mask", "next_mask_motion"] if refine else ["next_mask"]
    assert [v.name for v in masks.graph.output] == report["outputs"] == expected
    assert [v.name for v in full.graph.output] == ["next_image"] + expected
    assert not [n.name for n in masks.graph.node if "image_model" in n.name]
    assert [n.name for n in full.graph.node if "image_model" in n.name]
    assert len(masks.graph.node) < len(full.graph.node)
    meta = {p.key: p.value for p in masks.metadata_props}
    assert meta["stillmotion.mask_only"] == "true"
    assert "stillmotion.mask_only" not in {p.key for p in full.metadata_props}


def test_metadata_is_in_the_file(tmp_path):
    model, cfg = _tiny(channels=1)
    path = export_generator(model, cfg, str(tmp_path / "g.onnx"), {"preset": "tiny", "step": 12})
    meta = {p.key: p.value for p in onnx.load(path["onnx"]).metadata_props}
    assert set(METADATA_KEYS) <= set(meta)
    assert meta["stillmotion.preset"] == "tiny"
    assert meta["stillmotion.channels"] == "1"
    assert meta["stillmotion.value_range"] == "0..1"
    assert meta["stillmotion.step"] == "12"
    assert json.loads(meta["stillmotion.generator_config"]) == dataclasses.asdict(cfg)
    assert meta["stillmotion.config_hash"] == config_hash(cfg)
    assert meta["stillmotion.pad_multiple"] == str(2**cfg.depth)


def test_config_hash_is_canonical_sha256():
    import hashlib

    _, cfg = _tiny()
    canonical = json.dumps(dataclasses.asdict(cfg), sort_keys=True, separators=(",", ":"))
    assert config_hash(cfg) == hashlib.sha256(canonical.encode()).hexdigest()
    assert config_hash(cfg) != config_hash(dataclasses.replace(cfg, base_width=8))


def test_export_restores_training_mode_and_leaves_no_temp_files(tmp_path):
    model, cfg = _tiny()
    model.train()
    export_generator(model, cfg, str(tmp_path / "g.onnx"))
    assert model.training
    assert sorted(os.listdir(tmp_path)) == ["g.onnx"]


def test_reserved_metadata_key_is_rejected(tmp_path):
    model, cfg = _tiny()
    with pytest.raises(ValueError, match="reserved"):
        export_generator(model, cfg, str(tmp_path / "g.onnx"), {"channels": "7"})
    with pytest.raises(ValueError, match="reserved"):  # only mask_only=True may set it
        export_generator(model, cfg, str(tmp_path / "g.onnx"), {"mask_only": "true"})
    assert os.listdir(tmp_path) == []


def test_contract_check_names_a_wrong_output(tmp_path):
    model, cfg = _tiny()
    proto = onnx.load(export_generator(model, cfg, str(tmp_path / "g.onnx"))["onnx"])
    proto.graph.output[1].name = "mask_out"
    with pytest.raises(ExportError, match="where.onnx"):
        check_onnx_model(proto, 3, where="where.onnx")


def test_checkpoint_export_carries_step_and_preset(tmp_path):
    model, cfg = _tiny()
    Checkpoint(
        model=model.state_dict(),
        generator_config=dataclasses.asdict(cfg),
        config={"model": {"preset": "tiny"}, "seed": 1},
        step=42,
    ).save(tmp_path / "c.pt")
    report = export_checkpoint(str(tmp_path / "c.pt"), str(tmp_path / "m.onnx"))
    assert report["step"] == 42
    meta = {p.key: p.value for p in onnx.load(report["onnx"]).metadata_props}
    assert meta["stillmotion.preset"] == "tiny" and meta["stillmotion.step"] == "42"
    assert json.loads(meta["stillmotion.run_config"])["seed"] == 1


def test_checkpoint_with_mismatched_weights_is_rejected(tmp_path):
    model, cfg = _tiny()
    Checkpoint(
        model=model.state_dict(),
        generator_config={**dataclasses.asdict(cfg), "base_width": 8},
    ).save(tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="c.pt: model weights do not fit generator_config"):
        export_checkpoint(str(tmp_path / "c.pt"), str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_checkpoint_missing_keys_or_garbage_are_rejected(tmp_path):
    torch.save({"model": {}}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="a.pt: not a stillmotion-checkpoint file"):
        export_checkpoint(str(tmp_path / "a.pt"), str(tmp_path / "m.onnx"))
    (tmp_path / "b.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="b.pt: not a torch zip archive"):
        export_checkpoint(str(tmp_path / "b.pt"), str(tmp_path / "m.onnx"))


def test_export_command_prints_one_json_line(tmp_path, capsys):
    from stillmotion_trainer.cli import main

    model, cfg = _tiny()
    Checkpoint(model=model.state_dict(), generator_config=dataclasses.asdict(cfg)).save(
        tmp_path / "c.pt"
    )
    rc = main(["export", "--checkpoint", str(tmp_path / "c.pt"), "--out", str(tmp_path / "m.onnx")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(lines) == 1
    report = json.loads(lines[0])
    assert report["ok"] and report["outputs"] == ["next_image", "next_mask"]
    out = str(tmp_path / "masks.onnx")
    rc = main(["export", "--checkpoint", str(tmp_path / "c.pt"), "--out", out, "--mask-only"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["outputs"] == ["next_mask"]
    rc = main(
        ["export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.onnx")]
    )
    assert rc == 2 and json.loads(capsys.readouterr().out)["ok"] is False
