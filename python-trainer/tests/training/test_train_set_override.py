"""The --set grammar against tools/parity/set-grammar-cases.json, the table the orchestrator's
set-override.test.ts reads too: same value, or same reason and message, on both sides."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from stillmotion_trainer.training.config import ConfigError
from stillmotion_trainer.training.set_override import (
    SetOverrideError,
    apply_override,
    parse_override,
)

TABLE = json.loads(
    (Path(__file__).resolve().parents[3] / "tools" / "parity" / "set-grammar-cases.json").read_text(
        encoding="utf-8"
    )
)


def test_the_shared_table_is_the_set_grammar_one():
    assert TABLE["format"] == "stillmotion-set-grammar-cases"
    assert len(TABLE["cases"]) > 100


def _same_json(a: object, b: object) -> bool:
    """Equal as JSON values, and equal in kind: 1 == 1.0 but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("case", TABLE["cases"], ids=lambda c: json.dumps(c["set"]))
def test_set_grammar_case(case):
    if "error" not in case:
        path, value = parse_override(case["set"])
        assert path == case["path"]
        assert _same_json(value, case["value"]), (value, case["value"])
        return
    with pytest.raises(SetOverrideError) as info:
        parse_override(case["set"])
    assert isinstance(info.value, ConfigError) and info.value.code == "INVALID_ARGUMENT"
    assert info.value.reason == case["error"]
    assert info.value.errors == [case["message"]]


@pytest.mark.parametrize("case", TABLE["apply_cases"], ids=lambda c: " ".join(c["set"]))
def test_set_grammar_apply_case(case):
    config = copy.deepcopy(case["base"])
    if "error" not in case:
        for item in case["set"]:
            apply_override(config, item)
        assert _same_json(config, case["config"])
        return
    with pytest.raises(SetOverrideError) as info:
        for item in case["set"]:
            apply_override(config, item)
    assert info.value.reason == case["error"]
    assert info.value.errors == [case["message"]]
