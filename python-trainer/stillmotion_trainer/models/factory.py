"""Build the generator a `GeneratorConfig` describes, and tell which kind a built one is.

The only module that knows both generators: the literal G(I_t, M_t) (models/generator.py,
variants `shared` and `separate`) and the next-frame variant G(I_t, M_t, I_{t+1})
(models/next_frame.py, `next_frame_input: true`), which is built on the literal one. Callers
that must feed the next real frame ask `takes_next_frame`, never the model's attributes.
"""

from __future__ import annotations

from torch import nn

from stillmotion_trainer.models.generator import GeneratorConfig, SeparateGenerator, SharedGenerator
from stillmotion_trainer.models.next_frame import NextFrameGenerator

__all__ = ["build_generator", "count_parameters", "takes_next_frame"]


def build_generator(cfg: GeneratorConfig) -> nn.Module:
    """The generator described by `cfg` (validated first); weights from torch's global RNG, so
    `torch.manual_seed(seed)` first gives the same network every time."""
    cfg.validate()
    if cfg.next_frame_input:
        return NextFrameGenerator(cfg)
    if cfg.variant == "separate":
        return SeparateGenerator(cfg)
    return SharedGenerator(cfg)


def takes_next_frame(model: nn.Module) -> bool:
    """True for G(I_t, M^_t, I_{t+1}) (`next_frame_input: true`): its forward takes the next real
    frame as a third input. False for the literal G(I_t, M^_t) and for a wrapper around a
    generator (DistributedDataParallel): ask the bare model."""
    return isinstance(model, NextFrameGenerator)


def count_parameters(model: nn.Module) -> int:
    """The number of scalar weights of `model`, trainable or not (run logs, presets, bench)."""
    return sum(p.numel() for p in model.parameters())
