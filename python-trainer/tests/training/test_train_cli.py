"""`python -m stillmotion_trainer train`: one JSON summary line on stdout, logs on stderr."""

from __future__ import annotations

import json

import pytest
import yaml
from train_helpers import base_raw

from stillmotion_trainer.cli import main


pytestmark = pytest.mark.usefixtures("keep_torch_threads")  # conftest.py


def _write(tmp_path, raw) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_train_prints_one_summary_line_and_logs_to_stderr(tmp_path, capsys):
    raw = base_raw(val={"every_n_steps": 2}, log={"every_n_steps": 1})
    config = _write(tmp_path, raw)
    code = main(["train", "--config", config, "--run-dir", str(tmp_path / "run"),
                 "--set", "stop.max_steps=2"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["event"] == "end" and summary["reason"] == "max_steps" and summary["step"] == 2
    assert summary["run_dir"] == str(tmp_path / "run")
    assert summary["best_checkpoint"].endswith("checkpoints/best.pt")
    assert "step 1 | total " in err and "val step 2 | total " in err
    # --resume auto continues it
    code = main(["train", "--config", config, "--run-dir", str(tmp_path / "run"), "--resume",
                 "--set", "stop.max_steps=3"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["step"] == 3


def test_config_and_dataset_errors_exit_2_with_an_error_line(tmp_path, capsys):
    config = _write(tmp_path, base_raw(train={"mode": "sideways"}))
    assert main(["train", "--config", config, "--run-dir", str(tmp_path / "r")]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["event"] == "error" and error["code"] == "INVALID_ARGUMENT"
    assert 'train.mode: unsupported value "sideways"' in error["message"]
    assert "error: " in err
    missing = _write(tmp_path, base_raw(data={"dataset": str(tmp_path / "nowhere")}))
    assert main(["train", "--config", missing, "--run-dir", str(tmp_path / "r")]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["code"] == "NOT_FOUND" and "dataset manifest not found" in error["message"]
