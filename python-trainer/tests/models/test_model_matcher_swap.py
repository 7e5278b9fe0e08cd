"""A warp-head generator given a cheaper matcher (models/matcher_swap.py, `set-matcher`)."""

import dataclasses
import json

import pytest
import torch

from stillmotion_trainer.cli import main
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.matcher_swap import (
    MatcherSwapError,
    plan_swap,
    swap_matcher_state,
    with_model_overrides,
    with_refine_scale,
)
from stillmotion_trainer.models.warp import MATCHERS, Embedding, normalise
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


def test_the_cheaper_matchers_take_wides_weights_and_nothing_takes_weights_it_lacks():
    assert MATCHERS["wide-half"].levels == MATCHERS["wide"].levels[:-1]
    assert MATCHERS["wide-grey"].levels == MATCHERS["wide"].levels
    assert MATCHERS["wide-grey"].learned() == (True,) * 5 + (False,)
    assert plan_swap("wide", "wide-half") == (5, frozenset(range(5)))
    assert plan_swap("wide", "wide-grey") == (6, frozenset(range(5)))
    assert plan_swap("wide-grey", "wide-half") == (5, frozenset(range(5)))
    assert MATCHERS["wide-half-grey"].levels == MATCHERS["wide-half"].levels
    assert MATCHERS["wide-half-grey"].learned() == (True,) * 4 + (False,)
    assert plan_swap("wide-grey", "wide-half-grey") == (5, frozenset(range(4)))
    assert plan_swap("wide", "wide-half-grey") == (5, frozenset(range(4)))
    assert plan_swap("wide", "wide") == (6, frozenset(range(6)))  # a no-op is allowed
    for source, target in (("wide", "narrow"), ("narrow", "wide"), ("wide-half", "wide-grey")):
        with pytest.raises(MatcherSwapError, match="finest levels dropped"):
            plan_swap(source, target)
    with pytest.raises(
        MatcherSwapError, match=r"level\(s\) \[5\] that 'wide-grey' matches in grey"
    ):
        plan_swap("wide-grey", "wide")
    with pytest.raises(MatcherSwapError, match="unsupported value 'huge'"):
        plan_swap("wide", "huge")


def test_a_grey_level_is_the_normalised_mean_of_the_channels():
    image = torch.rand(2, 3, 9, 10, generator=torch.Generator().manual_seed(0))
    grey = image.mean(dim=1, keepdim=True)
    want = (grey - grey.mean(dim=(2, 3), keepdim=True)) / (
        grey.var(dim=(2, 3), unbiased=False, keepdim=True) + 1e-3
    ).sqrt()
    got = Embedding(3, 1, grey=True)(image)
    assert got.shape == (2, 1, 9, 10) and torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(
        Embedding(3, 2, grey=True)(image),
        normalise(torch.nn.functional.avg_pool2d(grey, 2, ceil_mode=True)),
        atol=1e-5,  # pooled, then averaged over the channels (pyramid.py): the order rounds
    )
    assert not list(Embedding(3, 1, grey=True).parameters())


def _cut_to(source, target: str) -> None:
    """Independent computation: change the source model's own estimator in place to `target`
    (levels cut, the finest embedding replaced by a grey one)."""
    d = source.displacement
    kept = len(MATCHERS[target].levels)
    d.levels, d._grids, d._windows = d.levels[:kept], d._grids[:kept], d._windows[:kept]
    embeddings = list(d.embeddings)[:kept]
    if MATCHERS[target].grey_finest:
        embeddings[-1] = Embedding(3, embeddings[-1].stride, grey=True)
    d.embeddings = torch.nn.ModuleList(embeddings)


@pytest.mark.parametrize("target", ["wide-half", "wide-grey", "wide-half-grey"])
def test_the_converted_generator_is_the_source_with_its_matcher_changed(target):
    """The source model itself, its estimator changed in place (`_cut_to`), gives the converted
    model's masks and displacement exactly; every weight outside the matcher is unchanged."""
    source, cfg = _wide_generator()
    state, gen_cfg = swap_matcher_state(source.state_dict(), dataclasses.asdict(cfg), target)
    assert gen_cfg["matcher"] == target
    converted = build_generator(generator_config("tiny", **{**gen_cfg, "variant": cfg.variant}))
    converted.load_state_dict(state)  # strict: every tensor fits, none is missing
    converted.eval()
    for key, tensor in source.state_dict().items():
        if not key.startswith("displacement."):
            assert torch.equal(state[key], tensor), key
    kept = len(MATCHERS[target].levels)
    assert torch.equal(state["displacement.log_beta"], source.displacement.log_beta[:kept])

    image, mask, moved = _frames(1)
    with torch.no_grad():
        out = converted.forward_with_motion(image, mask, moved)
        _cut_to(source, target)
        expected = source.forward_with_motion(image, mask, moved)
        assert torch.equal(converted.displacement(image, moved), source.displacement(image, moved))
    for got, want in zip(out, expected):
        assert torch.equal(got, want)


def test_only_a_warp_head_has_a_matcher_to_swap():
    cfg = generator_config("tiny", next_frame_input=True, mask_head="conv")
    model = build_generator(cfg)
    with pytest.raises(MatcherSwapError, match="warp mask head"):
        swap_matcher_state(model.state_dict(), dataclasses.asdict(cfg), "wide-half")


def test_the_run_config_names_the_new_matcher_and_the_original_is_untouched():
    run = {"model": {"preset": "realtime", "overrides": {"matcher": "wide"}}, "data": {"size": 128}}
    new = with_model_overrides(run, {"matcher": "wide-half"})
    assert new["model"]["overrides"]["matcher"] == "wide-half"
    assert run["model"]["overrides"]["matcher"] == "wide" and new["data"] == run["data"]
    assert with_model_overrides({}, {"matcher": "wide-half"}) == {}


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


def test_set_matcher_runs_the_correction_at_half_size_and_refuses_it_without_one(tmp_path, capsys):
    source, cfg = _wide_generator(seed=3)
    src = tmp_path / "wide.pt"
    Checkpoint(
        model=source.state_dict(), generator_config=dataclasses.asdict(cfg), config={}, step=4
    ).save(src)
    out = tmp_path / "half.pt"
    args = ["set-matcher", str(src), "--matcher", "wide-half", "--refine-scale", "2"]
    assert main([*args, "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"ok": True, "out": str(out), "matcher": "wide-half", "refine_scale": 2,
                      "step": 4}  # fmt: skip
    ckpt = Checkpoint.load(out)
    assert ckpt.generator_config["refine_scale"] == 2
    assert ckpt.generator_config["matcher"] == "wide-half"

    assert main(["set-matcher", str(src), "--out", str(tmp_path / "none.pt")]) == 2
    assert "nothing to change" in json.loads(capsys.readouterr().out)["error"]
    no_correction = dataclasses.asdict(dataclasses.replace(cfg, mask_refine=False))
    with pytest.raises(MatcherSwapError, match="refine_scale.*mask_refine"):
        with_refine_scale(no_correction, 2)
    with pytest.raises(MatcherSwapError, match="refine_scale: unsupported value 3"):
        with_refine_scale(dataclasses.asdict(cfg), 3)
