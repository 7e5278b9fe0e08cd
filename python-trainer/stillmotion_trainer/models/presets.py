"""Named generator configurations: `tiny` for tests, `realtime` for live use, `quality` offline.

`realtime` is sized so that mask propagation at 256x256 runs at >= 60 frames/s on 2 CPU cores
through onnxruntime (measured by tools/bench/propagate-fps.mjs; numbers in docs/models.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from stillmotion_trainer.models.generator import GeneratorConfig, generator_config_fields

PRESETS: dict[str, GeneratorConfig] = {
    # a few thousand parameters: fast unit tests and parity vectors
    "tiny": GeneratorConfig(variant="shared", base_width=4, depth=2),
    # shared encoder and decoder starting at half resolution: a U-Net whose only
    # full-resolution work is two 1x1 output heads over the upsampled features and the raw input
    # (measured speeds in docs/models.md)
    "realtime": GeneratorConfig(
        variant="shared", base_width=8, depth=3, stem_stride=2, head_kernel=1
    ),
    # two separate networks (claims 5-6), wider and deeper, bilinear upsampling
    "quality": GeneratorConfig(variant="separate", base_width=32, depth=4),
}


def generator_config(preset: str = "realtime", **overrides: Any) -> GeneratorConfig:
    """A copy of preset `preset` with `overrides` applied; unknown names raise ValueError."""
    if preset not in PRESETS:
        raise ValueError(
            f"preset: unsupported value {preset!r}. Should be one of: {', '.join(PRESETS)}"
        )
    allowed = generator_config_fields()
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(
            f"generator config: unknown field(s) {', '.join(unknown)}. "
            f"Should be among: {', '.join(allowed)}"
        )
    return dataclasses.replace(PRESETS[preset], **overrides).validate()
