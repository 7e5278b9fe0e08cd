"""Export a training checkpoint (`training.checkpoint.Checkpoint`) to ONNX.

A checkpoint's ``model`` (the generator state_dict) and ``generator_config``
(``dataclasses.asdict(GeneratorConfig)``) build the generator; ``config`` (the run config),
``step`` and the preset name are carried into the ONNX metadata so a model file says where it
came from. The file is read by `Checkpoint.load`, which never runs code from it.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import torch

from stillmotion_trainer.export.onnx_export import config_hash, export_generator
from stillmotion_trainer.export.split_export import check_splittable, export_split
from stillmotion_trainer.models.factory import build_generator
from stillmotion_trainer.models.generator import GeneratorConfig, generator_config_fields
from stillmotion_trainer.training.checkpoint import Checkpoint, CheckpointError

__all__ = [
    "CheckpointError",
    "checkpoint_preset",
    "export_checkpoint",
    "load_generator_from_checkpoint",
]


def load_generator_from_checkpoint(
    ckpt_path: str,
) -> tuple[torch.nn.Module, GeneratorConfig, Checkpoint]:
    """(generator in eval mode with the checkpoint's weights, its config, the checkpoint)."""
    ckpt = Checkpoint.load(ckpt_path)
    raw = ckpt.generator_config
    unknown = sorted(set(raw) - set(generator_config_fields()))
    if unknown:
        raise CheckpointError(
            ckpt_path,
            f"generator_config: unknown field(s) {', '.join(unknown)} "
            "(written by a newer trainer?)",
        )
    try:
        gen_cfg = GeneratorConfig(**raw).validate()
    except (TypeError, ValueError, NotImplementedError) as err:
        raise CheckpointError(ckpt_path, f"generator_config.{err}") from err
    model = build_generator(gen_cfg)
    try:
        model.load_state_dict(ckpt.model)
    except RuntimeError as err:
        raise CheckpointError(
            ckpt_path,
            f"model weights do not fit generator_config (hash {config_hash(gen_cfg)[:12]}): {err}",
        ) from err
    return model.eval(), gen_cfg, ckpt


def checkpoint_preset(ckpt: Checkpoint) -> str:
    """The preset a checkpoint was trained from, looked up where run configs keep it."""
    config = ckpt.config
    for section in (config.get("model"), config.get("generator"), config):
        if isinstance(section, dict) and isinstance(section.get("preset"), str):
            return section["preset"]
    return "custom"


def export_checkpoint(
    ckpt_path: str,
    out_path: str,
    opset: Optional[int] = None,
    mask_only: bool = False,
    split: bool = False,
) -> dict[str, Any]:
    """Export the generator of `ckpt_path` to `out_path`; return the export report.

    split: the features + step export of a warp-head generator (export/split_export.py; mask
    only by construction)."""
    model, gen_cfg, ckpt = load_generator_from_checkpoint(ckpt_path)
    metadata: dict[str, Any] = {
        "preset": checkpoint_preset(ckpt),
        "checkpoint": os.path.basename(ckpt_path),
    }
    metadata["step"] = str(ckpt.step)
    if ckpt.config:
        metadata["run_config"] = ckpt.config
    if split:
        try:
            check_splittable(model, gen_cfg)
        except ValueError as err:  # name the file: the user chose a checkpoint, not a config
            raise ValueError(f"{ckpt_path}: {err}") from err
        report = export_split(model, gen_cfg, out_path, metadata, opset=opset)
    else:
        report = export_generator(
            model, gen_cfg, out_path, metadata, opset=opset, mask_only=mask_only
        )
    report["checkpoint"] = os.path.abspath(ckpt_path)
    report["step"] = ckpt.step
    return report
