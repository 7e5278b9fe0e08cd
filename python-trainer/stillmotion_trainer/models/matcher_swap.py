"""Give a warp-head generator a coarser matcher without retraining it (the `set-matcher` command).

A matcher is a pyramid of levels, coarse to fine (models/warp.py, MATCHERS). Each level owns one
learned embedding (`displacement.embeddings.<i>`) and one soft arg-min sharpness
(`displacement.log_beta[i]`); nothing else in the generator depends on which levels there are.
So when the target matcher's levels are the source's first levels with the same cost window
(e.g. "wide" -> "wide-half": the full-resolution level dropped), the generator with the target
matcher is the same function minus the dropped levels: its displacement is the coarser levels'
estimate, upsampled to the frame, and every other weight (image branch, correction) is kept as
trained. What that costs in Dice must be measured (docs/models.md, "A matcher without its
full-resolution level"); the conversion itself is exact.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from stillmotion_trainer.models.warp import MATCHERS

EMBEDDING_PREFIX = "displacement.embeddings."
LOG_BETA = "displacement.log_beta"


class MatcherSwapError(ValueError):
    """The matchers are not a coarser/finer pair, or the weights are not a warp head's."""


def check_coarser(source: str, target: str) -> int:
    """The number of levels `target` keeps; MatcherSwapError unless its levels are the first
    levels of `source` with the same window."""
    for name in (source, target):
        if name not in MATCHERS:
            raise MatcherSwapError(
                f"matcher: unsupported value {name!r}. Should be one of: " + ", ".join(MATCHERS)
            )
    src, dst = MATCHERS[source], MATCHERS[target]
    kept = len(dst.levels)
    if dst.window != src.window or tuple(src.levels[:kept]) != tuple(dst.levels):
        raise MatcherSwapError(
            f"matcher {target!r} (levels {list(dst.levels)}, window {dst.window}) is not "
            f"{source!r} (levels {list(src.levels)}, window {src.window}) with its finest "
            "levels dropped: its weights would not fit"
        )
    return kept


def coarser_matcher_state(
    model: dict[str, torch.Tensor], generator_config: dict[str, Any], target: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, generator_config) of the same generator with matcher `target`: the dropped
    levels' embeddings removed, log_beta cut to the kept levels, every other tensor as it was."""
    if generator_config.get("mask_head") != "warp" or LOG_BETA not in model:
        raise MatcherSwapError("only a generator with the warp mask head has a matcher")
    source = generator_config.get("matcher", "narrow")
    kept = check_coarser(source, target)
    state: dict[str, torch.Tensor] = {}
    for key, tensor in model.items():
        if key.startswith(EMBEDDING_PREFIX):
            level = int(key[len(EMBEDDING_PREFIX) :].split(".", 1)[0])
            if level >= kept:
                continue
        state[key] = tensor[:kept].clone() if key == LOG_BETA else tensor
    return state, {**generator_config, "matcher": target}


def with_matcher_override(run_config: dict[str, Any], target: str) -> dict[str, Any]:
    """A copy of a run config whose model overrides name `target` as the matcher (so the run
    config stored with the checkpoint describes the generator it holds)."""
    config = copy.deepcopy(run_config)
    model = config.get("model")
    if isinstance(model, dict):
        overrides = model.setdefault("overrides", {})
        if isinstance(overrides, dict):
            overrides["matcher"] = target
    return config
