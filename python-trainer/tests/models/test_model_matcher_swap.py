"""A warp-head generator given a coarser matcher (models/matcher_swap.py, `set-matcher`)."""

import dataclasses
import json

import pytest
import torch

from stillmotion_trainer.cli import main
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.matcher_swap import (
    MatcherSwapError,
    check_coarser,
    coarser_matcher_state,
    with_matcher_override,
)
from stillmotion_trainer.models.warp import MATCHERS
from stillmotion_trainer.training.checkpoint import Checkpoint


def _wide_generator(seed: int = 0):
    cfg = generator_config(
        "tiny", next_frame_input=True, mask_head="warp", mask_refine=True, matcher="wide"
    )
    torch.manual_seed(seed)
    model = build_generator(cfg).eval()
    with torch.no_grad():  # not the initial sharpness everywhere: each level's beta must survive
        model.displacement.log_beta.copy_(torch.linspace(1.5, 2.5, len(MATCHERS["wide"].levels)))
    return model, cfg


def _frames(seed: int, size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size // 8, size // 8, generator=g)
    image = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic").clamp(0, 1)
    moved = torch.roll(image, shifts=(2, -3), dims=(2, 3))
    mask = (torch.rand(1, 1, size, size, generator=g) > 0.7).float()
    return image, mask, moved


def test_wide_half_is_wide_without_its_finest_level():
    assert check_coarser("wide", "wide-half") == len(MATCHERS["wide"].levels) - 1
    assert MATCHERS["wide-half"].levels == MATCHERS["wide"].levels[:-1]
    assert check_coarser("wide", "wide") == len(MATCHERS["wide"].levels)  # a no-op is allowed
    for source, target in (("wide", "narrow"), ("narrow", "wide"), ("wide-half", "wide")):
        with pytest.raises(MatcherSwapError, match="finest levels dropped"):
            check_coarser(source, target)
    with pytest.raises(MatcherSwapError, match="unsupported value 'huge'"):
        check_coarser("wide", "huge")


def test_the_converted_generator_is_the_source_run_without_its_finest_level():
    """Independent computation: the source model itself with its estimator's finest level cut off
    (levels, embeddings, grids and windows truncated in place) gives the converted model's masks
    and displacement exactly; every weight outside the matcher is unchanged."""
    source, cfg = _wide_generator()
    state, gen_cfg = coarser_matcher_state(
        source.state_dict(), dataclasses.asdict(cfg), "wide-half"
    )
    assert gen_cfg["matcher"] == "wide-half"
    converted = build_generator(generator_config("tiny", **{**gen_cfg, "variant": cfg.variant}))
    converted.load_state_dict(state)  # strict: every tensor fits, none is missing
    converted.eval()
    for key, tensor in source.state_dict().items():
        if not key.startswith("displacement."):
            assert torch.equal(state[key], tensor), key
    assert torch.equal(state["displacement.log_beta"], source.displacement.log_beta[:-1])

    image, mask, moved = _frames(1)
    with torch.no_grad():
        out = converted.forward_with_motion(image, mask, moved)
        d = source.displacement
        d.levels, d._grids, d._windows = d.levels[:-1], d._grids[:-1], d._windows[:-1]
        d.embeddings = torch.nn.ModuleList(list(d.embeddings)[:-1])
        expected = source.forward_with_motion(image, mask, moved)
        assert torch.equal(converted.displacement(image, moved), d(image, moved))
    for got, want in zip(out, expected):
        assert torch.equal(got, want)


def test_only_a_warp_head_has_a_matcher_to_swap():
    cfg = generator_config("tiny", next_frame_input=True, mask_head="conv")
    model = build_generator(cfg)
    with pytest.raises(MatcherSwapError, match="warp mask head"):
        coarser_matcher_state(model.state_dict(), dataclasses.asdict(cfg), "wide-half")


def test_the_run_config_names_the_new_matcher_and_the_original_is_untouched():
    run = {"model": {"preset": "realtime", "overrides": {"matcher": "wide"}}, "data": {"size": 128}}
    new = with_matcher_override(run, "wide-half")
    assert new["model"]["overrides"]["matcher"] == "wide-half"
    assert run["model"]["overrides"]["matcher"] == "wide" and new["data"] == run["data"]
    assert with_matcher_override({}, "wide-half") == {}


def test_set_matcher_command_writes_a_loadable_checkpoint_and_refuses_a_finer_one(tmp_path, capsys):
    source, cfg = _wide_generator(seed=2)
    src = tmp_path / "wide.pt"
    Checkpoint(
        model=source.state_dict(),
        generator_config=dataclasses.asdict(cfg),
        config={"model": {"preset": "tiny", "overrides": {"matcher": "wide"}}},
        step=7,
    ).save(src)
    out = tmp_path / "half.pt"
    assert main(["set-matcher", str(src), "--matcher", "wide-half", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"ok": True, "out": str(out), "matcher": "wide-half", "step": 7}
    ckpt = Checkpoint.load(out)
    assert ckpt.generator_config["matcher"] == "wide-half" and ckpt.step == 7
    assert ckpt.config["model"]["overrides"]["matcher"] == "wide-half"

    back = tmp_path / "back.pt"
    assert main(["set-matcher", str(out), "--matcher", "wide", "--out", str(back)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["code"] == "INVALID_ARGUMENT" and str(out) in report["error"]
    assert not back.exists()
