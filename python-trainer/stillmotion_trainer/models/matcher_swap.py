"""Give a warp-head generator a cheaper matcher without retraining it (the `set-matcher` command).

A matcher is a pyramid of levels, coarse to fine (models/warp.py, MATCHERS). Each level owns one
soft arg-min sharpness (`displacement.log_beta[i]`) and, unless it is a grey level, one learned
embedding (`displacement.embeddings.<i>.conv`); nothing else in the generator depends on which
levels there are. So a target matcher whose levels are the source's first levels (same strides,
radii and cost window) takes the source's weights as they are: the dropped levels' sharpness and
embeddings go, and a level the target matches in grey drops its embedding ("wide" ->
"wide-half": the full-resolution level dropped; "wide" -> "wide-grey": that level matched on the
grey image). Every other weight (image branch, correction) is kept as trained. What that costs
in Dice must be measured (docs/models.md, "Cheaper matchers"); the conversion itself is exact:
the converted generator computes what the source does with those levels changed.

The same command can also run the correction at half size (`GeneratorConfig.refine_scale`,
`with_refine_scale`): no weight changes, the correction's network just sees the frame and the
carried mask box-averaged 2x (docs/models.md, "The correction at half size").
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.models.warp import MATCHERS

EMBEDDING_PREFIX = "displacement.embeddings."
LOG_BETA = "displacement.log_beta"


class MatcherSwapError(ValueError):
    """The target matcher cannot take the source's weights, or they are not a warp head's."""


def plan_swap(source: str, target: str) -> tuple[int, frozenset[int]]:
    """(levels the target keeps, levels whose learned embedding carries over); MatcherSwapError
    unless the target's levels are the source's first levels with the same window and every
    learned level of the target is learned in the source (its weights exist)."""
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
    learned, had_weights = dst.learned(), src.learned()
    missing = [i for i in range(kept) if learned[i] and not had_weights[i]]
    if missing:
        raise MatcherSwapError(
            f"matcher {target!r} learns an embedding at level(s) {missing} that {source!r} "
            "matches in grey: there are no weights for it"
        )
    return kept, frozenset(i for i in range(kept) if learned[i])


def swap_matcher_state(
    model: dict[str, torch.Tensor], generator_config: dict[str, Any], target: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state_dict, generator_config) of the same generator with matcher `target`: the dropped
    levels' and grey levels' embeddings removed, log_beta cut to the kept levels, every other
    tensor as it was."""
    if generator_config.get("mask_head") != "warp" or LOG_BETA not in model:
        raise MatcherSwapError("only a generator with the warp mask head has a matcher")
    # a checkpoint written before the field existed has the dataclass default
    kept, carried = plan_swap(generator_config.get("matcher", GeneratorConfig.matcher), target)
    state: dict[str, torch.Tensor] = {}
    for key, tensor in model.items():
        if key.startswith(EMBEDDING_PREFIX):
            level = int(key[len(EMBEDDING_PREFIX) :].split(".", 1)[0])
            if level not in carried:
                continue
        state[key] = tensor[:kept].clone() if key == LOG_BETA else tensor
    return state, {**generator_config, "matcher": target}


def with_refine_scale(generator_config: dict[str, Any], scale: int) -> dict[str, Any]:
    """The generator config with its correction at 1/scale of the resolution; MatcherSwapError
    unless the generator has a correction (mask_refine) and scale is one GeneratorConfig takes."""
    new: dict[str, Any] = {**generator_config, "refine_scale": scale}
    try:
        GeneratorConfig(**new).validate()
    except (TypeError, ValueError) as e:
        raise MatcherSwapError(str(e)) from None
    return new


def with_model_overrides(run_config: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run config whose model overrides hold `changed` (e.g. the new matcher), so
    the run config stored with the checkpoint describes the generator it holds."""
    config = copy.deepcopy(run_config)
    model = config.get("model")
    if isinstance(model, dict):
        overrides = model.setdefault("overrides", {})
        if isinstance(overrides, dict):
            overrides.update(changed)
    return config
