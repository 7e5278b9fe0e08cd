"""Schema errors against tools/parity/config-error-cases.json, the table the orchestrator's
schema-errors.test.ts reads too: the same config gives the same lines on both sides."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stillmotion_trainer.schemas import js_number
from stillmotion_trainer.training import config as C

TABLE = json.loads(
    (
        Path(__file__).resolve().parents[3] / "tools" / "parity" / "config-error-cases.json"
    ).read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", TABLE["cases"], ids=lambda c: c["why"])
def test_schema_error_case(case):
    assert C.schema_errors(case["config"]) == case["errors"]


def test_numbers_are_shown_as_javascript_shows_them():
    """Values in messages print alike in both languages (JSON.stringify's Number::toString)."""
    shown = {
        0.0: "0",
        -0.0: "0",
        1.0: "1",
        100.0: "100",
        0.5: "0.5",
        1e-3: "0.001",
        1e-5: "0.00001",
        1e-6: "0.000001",
        1e-7: "1e-7",
        1.5e-7: "1.5e-7",
        123456.789: "123456.789",
        1e20: "100000000000000000000",
        1e21: "1e+21",
        1.25e21: "1.25e+21",
        -2.5e-8: "-2.5e-8",
        0.1 + 0.2: "0.30000000000000004",
        math.inf: "null",
    }
    assert {x: js_number(x) for x in shown} == shown


def test_nan_and_infinity_in_a_config_file_are_refused(tmp_path):
    """The schema's range checks let NaN through; the reader refuses it, naming where."""
    (tmp_path / "nan.yaml").write_text("data:\n  dataset: x\ntrain:\n  lr: .nan\n")
    (tmp_path / "inf.json").write_text('{"data": {"dataset": "x", "size": [Infinity, 4]}}')
    with pytest.raises(C.ConfigError) as info:
        C.load_config(tmp_path / "nan.yaml")
    assert info.value.errors == [
        "(file): cannot parse: train.lr: NaN is not a finite number (JSON has no NaN or Infinity)"
    ]
    with pytest.raises(C.ConfigError, match=r"data\.size\[0\]: Infinity is not a finite"):
        C.load_config(tmp_path / "inf.json")
