"""The run config: one schema, defaults in one place, `path: message` errors, overrides."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
import yaml
from train_helpers import base_raw

from stillmotion_trainer.losses.training_loss import LossConfig
from stillmotion_trainer.models.generator import DECODERS, UPSAMPLE_MODES, VARIANTS
from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.models.presets import PRESETS
from stillmotion_trainer.schemas import load_schema
from stillmotion_trainer.training import config as C
from stillmotion_trainer.training.initial_mask import KINDS
from stillmotion_trainer.training.walks import MODES


def _section_schema(schema: dict, ref_or_node: dict) -> dict:
    ref = ref_or_node.get("$ref")
    return schema["$defs"][ref.split("/")[-1]] if ref else ref_or_node


def _object_branch(node: dict) -> dict:
    if "oneOf" in node:
        return next(b for b in node["oneOf"] if b.get("type") == "object")
    return node


def _compare_defaults(schema: dict, node: dict, cls: type, where: str) -> None:
    """Every dataclass field is in the schema with the same default, and nothing else is."""
    props = _object_branch(node)["properties"]
    names = [f.name for f in dataclasses.fields(cls)]
    assert sorted(props) == sorted(names + (["$schema"] if cls is C.RunConfig else [])), where
    hints = typing.get_type_hints(cls)
    instance = cls()
    for f in dataclasses.fields(cls):
        sub = _section_schema(schema, props[f.name])
        target = C._dataclass_in(hints[f.name])
        if target is not None:
            if getattr(instance, f.name) is not None:
                _compare_defaults(schema, sub, target, f"{where}.{f.name}")
            else:
                assert sub.get("default", "missing") is None, f"{where}.{f.name}"
                _compare_defaults(schema, sub, target, f"{where}.{f.name}")
            continue
        if f.name in ("dataset",):
            continue  # required, no default
        assert sub.get("default") == getattr(instance, f.name), f"{where}.{f.name}"


def test_schema_defaults_equal_the_dataclass_defaults():
    schema = load_schema(C.SCHEMA_NAME)
    _compare_defaults(schema, schema, C.RunConfig, "(root)")


def test_schema_choices_match_the_code_that_implements_them():
    s = load_schema(C.SCHEMA_NAME)["$defs"]
    assert s["train"]["properties"]["mode"]["enum"] == list(MODES)
    assert s["train"]["properties"]["initial_mask"]["enum"] == list(KINDS)
    assert s["model"]["properties"]["preset"]["enum"] == list(PRESETS)
    overrides = s["model"]["properties"]["overrides"]["properties"]
    assert sorted(overrides) == sorted(f.name for f in dataclasses.fields(GeneratorConfig))
    assert overrides["variant"]["enum"] == list(VARIANTS)
    assert overrides["decoder"]["enum"] == list(DECODERS)
    assert overrides["upsample_mode"]["enum"] == list(UPSAMPLE_MODES)
    assert sorted(s["loss"]["properties"]) == sorted(f.name for f in dataclasses.fields(LossConfig))


def test_minimal_config_gets_every_default_and_freezes_to_a_schema_valid_dict():
    cfg = C.config_from_dict({"data": {"dataset": "somewhere"}})
    assert cfg.train.mode == "forward" and cfg.stop.max_steps == 1000
    frozen = C.config_to_dict(cfg)
    assert C.schema_errors(frozen) == []
    assert C.config_from_dict(json.loads(json.dumps(frozen))) == cfg


def _errors(raw: dict) -> list[str]:
    with pytest.raises(C.ConfigError) as info:
        C.config_from_dict(raw)
    assert info.value.code == "INVALID_ARGUMENT"
    return info.value.errors


def test_errors_name_the_key_the_value_and_what_is_allowed():
    raw = base_raw(train={"mode": "sideways", "lr": 0}, data={"colour": True})
    errors = _errors(raw)
    assert any(e.startswith("data.colour: unknown key. Should be one of:") for e in errors)
    mode = next(e for e in errors if e.startswith("train.mode:"))
    assert '"sideways"' in mode and '"forward", "reverse", "fused", "keyframe"' in mode
    assert "train.lr: must be > 0, got 0" in errors


def test_errors_inside_nullable_sections_point_at_the_field():
    errors = _errors(base_raw(stop={"early_stopping": {"patience": 0}}))
    assert errors == ["stop.early_stopping.patience: must be >= 1, got 0"]


def test_missing_dataset_is_reported_by_path():
    assert _errors({"data": {}}) == ["data.dataset: required key is missing"]


@pytest.mark.parametrize(
    "sections, expected",
    [
        ({"train": {"initial_mask": "keyframe"}}, "train.initial_mask:"),
        ({"train": {"mode": "keyframe"}, "data": {"require_key": False}}, "data.require_key:"),
        ({"train": {"scheduler": {"name": "cosine"}}, "stop": {"max_steps": None}}, "train.sched"),
        (
            {"train": {"scheduler": {"name": "linear", "horizon": "time_budget"}}},
            "train.scheduler.horizon:",
        ),
        (
            {
                "stop": {"early_stopping": {}},
                "data": {"val_fraction": 0},
                "val": {"every_n_steps": 2},
            },
            "stop.early_stopping:",
        ),
        ({"stop": {"early_stopping": {}}, "val": {"every_n_steps": 0}}, "stop.early_stopping:"),
        ({"train": {"gan": {"enabled": True}}}, "loss.lambda_adv:"),
        ({"loss": {"lambda_adv": 0.1}}, "loss.lambda_adv:"),
        ({"train": {"amp": True}}, "train.amp:"),
        ({"model": {"overrides": {"variant": "separate", "shared_decoder_stages": 1}}}, "model."),
    ],
)
def test_cross_field_rules(sections, expected):
    errors = _errors(base_raw(**sections))
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_yaml_json_and_set_overrides(tmp_path):
    raw = base_raw()
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "run.json").write_text(json.dumps(raw))
    overrides = [
        "train.lr=5e-4",
        "data.size=[16, 12]",
        "stop.early_stopping.patience=3",
        "name=x",
        "val.every_n_steps=2",
    ]
    a = C.load_config(tmp_path / "run.yaml", overrides)
    b = C.load_config(tmp_path / "run.json", overrides)
    assert a == b
    assert a.train.lr == 5e-4 and a.data.hw() == (16, 12) and a.name == "x"
    assert a.stop.early_stopping == C.EarlyStoppingConfig(patience=3, min_delta=0.0)


def test_bad_files_and_overrides_are_config_errors(tmp_path):
    (tmp_path / "a.toml").write_text("x = 1")
    (tmp_path / "b.yaml").write_text("- just\n- a list\n")
    (tmp_path / "c.json").write_text("{nope")
    cases = [
        ("a.toml", "unsupported extension"),
        ("b.yaml", "expected a mapping"),
        ("c.json", "not valid JSON"),
        ("missing.yaml", "not found"),
    ]
    for name, fragment in cases:
        with pytest.raises(C.ConfigError, match=fragment):
            C.load_config(tmp_path / name)
    (tmp_path / "ok.json").write_text(json.dumps(base_raw()))
    with pytest.raises(C.ConfigError, match="expected key.path=value"):
        C.load_config(tmp_path / "ok.json", ["train.lr"])
    with pytest.raises(C.ConfigError, match="data.dataset is not a section"):
        C.load_config(tmp_path / "ok.json", ["data.dataset.x=1"])


def test_resume_differences_ignore_stop_log_and_checkpoint_only():
    a = C.config_to_dict(C.config_from_dict(base_raw()))
    b = C.config_to_dict(
        C.config_from_dict(base_raw(stop={"max_steps": 99}, log={"every_n_steps": 1}))
    )
    assert C.resume_differences(a, b) == []
    c = C.config_to_dict(C.config_from_dict(base_raw(train={"lr": 0.5})))
    assert C.resume_differences(a, c) == ["train.lr: was 0.001 in the run, now 0.5"]


def test_docs_config_reference_is_the_one_generated_from_the_schema():
    from stillmotion_trainer.training.config_reference import BEGIN, END, render_markdown

    docs = (Path(__file__).resolve().parents[3] / "docs" / "training.md").read_text()
    block = docs[docs.index(BEGIN) : docs.index(END) + len(END)]
    assert block == render_markdown(), "regenerate: python -m ...training.config_reference"


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).resolve().parents[3] / "configs").rglob("*.yaml")),
    ids=lambda p: p.name,
)
def test_every_shipped_config_is_valid(path):
    """configs/quickstart.yaml and every recipe load (their dataset is set on the command line)."""
    cfg = C.load_config(path, ["data.dataset=/data/manifest.json"])
    assert cfg.name == path.stem


def test_amp_is_checked_in_one_place_for_a_known_and_a_resolved_device():
    """amp_enabled: true needs CUDA; auto follows the device. config_rules asks it when the
    device is written in the config, the loop asks it once `auto` has become a device."""
    train = C.TrainConfig
    assert C.amp_enabled(train(amp="auto"), "cuda") is True
    assert C.amp_enabled(train(amp="auto"), "cpu") is False
    assert C.amp_enabled(train(amp=False), "cuda") is False
    assert C.amp_enabled(train(amp=True), "cuda") is True
    with pytest.raises(C.ConfigError) as info:
        C.amp_enabled(train(amp=True), "cpu")
    assert info.value.errors == [
        'train.amp: true needs CUDA, but the device is "cpu". Use false or auto'
    ]
    assert _errors(base_raw(train={"amp": True, "device": "cpu"})) == info.value.errors
    auto = C.config_from_dict(base_raw(train={"amp": True, "device": "auto"}))
    assert auto.train.amp is True  # decided when the loop knows the device
