"""The schema's model.overrides and train.gan.discriminator say what GeneratorConfig and
DiscriminatorConfig accept: every choice, every bound and every default agree.

The run config's own defaults are checked field by field against the schema in
tests/training/test_train_config.py (test_schema_defaults_equal_the_dataclass_defaults); this
file covers the model configs the run config hands its sections to. Bounds are probed through
`validate()` on each side of the schema's limit, not read from the code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from stillmotion_trainer.models.discriminator import DiscriminatorConfig
from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.schemas import load_schema
from stillmotion_trainer.training import config as C

SCHEMA = load_schema(C.SCHEMA_NAME)["$defs"]
OVERRIDES: dict[str, Any] = SCHEMA["model"]["properties"]["overrides"]["properties"]
DISCRIMINATOR: dict[str, Any] = SCHEMA["train"]["properties"]["gan"]["properties"]["discriminator"][
    "properties"
]
# fields whose valid values depend on another field: the probe sets that one too
CONTEXT: dict[str, dict[str, Any]] = {
    "shared_decoder_stages": {"depth": 6},
    "refine_width": {"next_frame_input": True, "mask_head": "warp", "mask_refine": True},
    "refine_scale": {"next_frame_input": True, "mask_head": "warp", "mask_refine": True},
    "mask_head": {"next_frame_input": True},
    "matcher": {"next_frame_input": True, "mask_head": "warp"},
    "image_head": {"next_frame_input": True, "mask_head": "warp", "mask_refine": True},
    "mask_refine": {"next_frame_input": True, "mask_head": "warp"},
}


def _accepts(field: str, value: Any) -> bool:
    cfg = dataclasses.replace(GeneratorConfig(), **{**CONTEXT.get(field, {}), field: value})
    try:
        cfg.validate()
    except ValueError:
        return False
    return True


def _probes(node: dict[str, Any]) -> list[tuple[Any, bool]]:
    """(value, the schema accepts it) around each limit and for each choice of `node`."""
    if "enum" in node:
        wrong = "other" if isinstance(node["enum"][0], str) else 99
        return [(v, True) for v in node["enum"]] + [(wrong, False)]
    types = node["type"] if isinstance(node["type"], list) else [node["type"]]
    out: list[tuple[Any, bool]] = []
    if "boolean" in types:
        out += [(False, True), (True, True), ("yes", False)]
    if "null" in types:
        out.append((None, True))
    if "integer" in types:
        if "minimum" in node:
            out += [(node["minimum"], True), (node["minimum"] - 1, False)]
        if "maximum" in node:
            out += [(node["maximum"], True), (node["maximum"] + 1, False)]
        out.append((2.5, False))
    if "number" in types:
        out += [(node["minimum"], True), (node["minimum"] - 0.01, False), ("0.5", False)]
        out += [(node["exclusiveMaximum"] - 0.01, True), (node["exclusiveMaximum"], False)]
    return out


@pytest.mark.parametrize("field", sorted(OVERRIDES))
def test_generator_config_accepts_exactly_what_the_schema_accepts(field: str) -> None:
    assert sorted(OVERRIDES) == sorted(f.name for f in dataclasses.fields(GeneratorConfig))
    probes = _probes(OVERRIDES[field])
    assert probes, field
    for value, valid in probes:
        assert _accepts(field, value) == valid, (field, value, valid)


@pytest.mark.parametrize("field", sorted(DISCRIMINATOR))
def test_discriminator_settings_agree_with_the_discriminator_config(field: str) -> None:
    node = DISCRIMINATOR[field]
    assert node["default"] == getattr(DiscriminatorConfig(), field)
    assert node["default"] == getattr(C.DiscriminatorSettings(), field)
    for value, valid in _probes(node):
        cfg = dataclasses.replace(DiscriminatorConfig(), **{field: value})
        try:
            cfg.validate()
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == valid, (field, value, valid)
