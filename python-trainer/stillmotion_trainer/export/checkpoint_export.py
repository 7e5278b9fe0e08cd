"""Export a training checkpoint (the plain dict the training loop saves) to ONNX.

A checkpoint holds at least ``model`` (the generator state_dict) and ``generator_config``
(``dataclasses.asdict(GeneratorConfig)``); ``config`` (the run config), ``step`` and a preset
name, when present, are carried into the ONNX metadata so a model file says where it came from.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import torch

from stillmotion_trainer.export.onnx_export import config_hash, export_generator
from stillmotion_trainer.models.generator import (
    GeneratorConfig,
    build_generator,
    generator_config_fields,
)


class CheckpointError(ValueError):
    """The checkpoint cannot be exported; the message names the file and the problem."""


def load_generator_from_checkpoint(ckpt_path: str) -> tuple[torch.nn.Module, GeneratorConfig, dict]:
    """(generator in eval mode with the checkpoint's weights, its config, the raw checkpoint)."""
    if not os.path.isfile(ckpt_path):
        raise CheckpointError(f"{ckpt_path}: no such checkpoint file")
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu")
    except Exception as err:  # torch raises several types for torn or foreign files
        raise CheckpointError(f"{ckpt_path}: not a readable torch checkpoint ({err})") from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{ckpt_path}: expected a dict checkpoint, got {type(ckpt).__name__}")
    for key in ("model", "generator_config"):
        if key not in ckpt:
            raise CheckpointError(
                f"{ckpt_path}: missing key {key!r} (has: {', '.join(sorted(map(str, ckpt)))})"
            )
    raw = ckpt["generator_config"]
    if not isinstance(raw, dict):
        raise CheckpointError(f"{ckpt_path}: generator_config: expected a dict, got {raw!r}")
    unknown = sorted(set(raw) - set(generator_config_fields()))
    if unknown:
        raise CheckpointError(
            f"{ckpt_path}: generator_config: unknown field(s) {', '.join(unknown)} "
            f"(written by a newer trainer?)"
        )
    try:
        gen_cfg = GeneratorConfig(**raw).validate()
    except (ValueError, NotImplementedError) as err:
        raise CheckpointError(f"{ckpt_path}: generator_config.{err}") from err
    model = build_generator(gen_cfg)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{ckpt_path}: model weights do not fit generator_config "
            f"(hash {config_hash(gen_cfg)[:12]}): {err}"
        ) from err
    return model.eval(), gen_cfg, ckpt


def checkpoint_preset(ckpt: dict) -> str:
    """The preset a checkpoint was trained from, looked up where run configs keep it."""
    if isinstance(ckpt.get("preset"), str):
        return ckpt["preset"]
    config = ckpt.get("config")
    if isinstance(config, dict):
        for section in (config.get("model"), config.get("generator"), config):
            if isinstance(section, dict) and isinstance(section.get("preset"), str):
                return section["preset"]
    return "custom"


def export_checkpoint(
    ckpt_path: str, out_path: str, opset: Optional[int] = None, mask_only: bool = False
) -> dict[str, Any]:
    """Export the generator of `ckpt_path` to `out_path`; return the export report."""
    model, gen_cfg, ckpt = load_generator_from_checkpoint(ckpt_path)
    metadata: dict[str, Any] = {
        "preset": checkpoint_preset(ckpt),
        "checkpoint": os.path.basename(ckpt_path),
    }
    if isinstance(ckpt.get("step"), int):
        metadata["step"] = str(ckpt["step"])
    if isinstance(ckpt.get("config"), dict):
        metadata["run_config"] = ckpt["config"]
    report = export_generator(model, gen_cfg, out_path, metadata, opset=opset, mask_only=mask_only)
    report["checkpoint"] = os.path.abspath(ckpt_path)
    report["step"] = ckpt.get("step")
    return report
