"""The full training loss (METHOD.md step 6) against a loop-form numpy version."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import numpy_reference as ref
from stillmotion_trainer.losses import LossConfig, LossInputError, training_loss


def _batch(seed: int, b: int = 2, t: int = 3, c: int = 3, h: int = 5, w: int = 7, k: int = 2):
    rng = np.random.default_rng(seed)
    frames = rng.random((b, t + 1, c, h, w))
    frames[:, 1:] = np.clip(frames[:, :-1] + rng.normal(0, 0.15, (b, t, c, h, w)), 0, 1)
    inferred = np.ones((b, t), dtype=bool)
    inferred[:, 0] = False  # the random seed mask of step 0
    return {
        "frames_in": frames[:, :-1].copy(),
        "frames_next": frames[:, 1:].copy(),
        "pred_images": rng.random((b, t, c, h, w)),
        "mask_in": rng.random((b, t, 1, h, w)),
        "pred_masks": rng.random((b, t, 1, h, w)),
        "mask_in_inferred": inferred,
        "key_images": rng.random((b, k, c, h, w)),
        "key_masks": (rng.random((b, k, 1, h, w)) > 0.5).astype(np.float64),
        "key_valid": np.array([[True, False], [True, True]][:b])[:, :k],
    }


def _torch(batch: dict) -> dict:
    return {name: torch.from_numpy(value) for name, value in batch.items()}


CONFIGS = [
    LossConfig(),
    LossConfig(phi="l1", image_phi="l2", d="ncc", gamma1=0.3, gamma2=0.7, lambda_m2=0.5),
    LossConfig(phi="l2", image_phi="dice", d="1-l1", gamma1=0.9, lambda_image=2.0, lambda_m1=0),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("c", [1, 3])
def test_training_loss_matches_numpy(cfg: LossConfig, c: int) -> None:
    batch = _batch(seed=c, c=c)
    got = training_loss(**_torch(batch), cfg=cfg)
    want = ref.training_loss(**batch, cfg=dataclasses.asdict(cfg))
    assert set(got) == {"image", "mask_first", "mask_second", "adv", "total"}
    for name, value in want.items():
        assert got[name].dim() == 0
        assert float(got[name]) == pytest.approx(value, rel=1e-10, abs=1e-12), name


def test_excluded_first_mask_terms_still_count_in_the_denominator() -> None:
    batch = _batch(seed=4, t=2)
    cfg = LossConfig(d="1-l1", gamma1=0.0)  # every pair alike: θ = φ
    only_second = training_loss(**_torch(batch), cfg=cfg)["mask_first"]
    phi_second = ref.phi("dice", batch["mask_in"][:, 1], batch["pred_masks"][:, 1])
    assert float(only_second) == pytest.approx(phi_second.sum() / 4, rel=1e-12)


def test_adversarial_term_is_weighted_into_the_total() -> None:
    batch = _torch(_batch(seed=5))
    base = training_loss(**batch, cfg=LossConfig())
    adv = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    with_adv = training_loss(**batch, cfg=LossConfig(lambda_adv=0.1), adv=adv)
    assert float(with_adv["adv"]) == 2.5
    assert float(with_adv["total"]) == pytest.approx(float(base["total"]) + 0.25, rel=1e-12)
    with pytest.raises(LossInputError, match="^adv: required when lambda_adv > 0"):
        training_loss(**batch, cfg=LossConfig(lambda_adv=0.1))


def test_training_loss_backpropagates_into_predictions_in_float32() -> None:
    batch = {n: v.float() if v.is_floating_point() else v for n, v in _torch(_batch(6)).items()}
    for name in ("pred_images", "pred_masks", "mask_in"):
        batch[name].requires_grad_()
    total = training_loss(**batch, cfg=LossConfig(gamma1=0.1))["total"]
    assert total.dtype == torch.float32
    total.backward()
    for name in ("pred_images", "pred_masks", "mask_in"):
        grad = batch[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_training_loss_on_tiny_frames_with_full_and_empty_masks() -> None:
    batch = _batch(seed=7, b=1, t=2, c=1, h=3, w=5, k=1)
    batch["mask_in"][:] = 0.0
    batch["pred_masks"][:] = 1.0
    batch["key_masks"][:] = 0.0
    batch["key_valid"][:] = True
    cfg = LossConfig(gamma1=0.0)
    got = training_loss(**_torch(batch), cfg=cfg)
    want = ref.training_loss(**batch, cfg=dataclasses.asdict(cfg))
    assert float(got["mask_first"]) == pytest.approx(want["mask_first"], abs=1e-12)
    assert float(got["mask_second"]) == pytest.approx(1.0, abs=1e-6)


def test_training_loss_names_the_bad_argument() -> None:
    batch = _torch(_batch(seed=8))
    bad = dict(batch, pred_masks=batch["pred_masks"][:, :2])
    with pytest.raises(LossInputError, match=r"^pred_masks: expected shape \(2, 3, 1, 5, 7\)"):
        training_loss(**bad, cfg=LossConfig())
    bad = dict(batch, mask_in_inferred=batch["mask_in_inferred"].double())
    with pytest.raises(LossInputError, match="^mask_in_inferred: expected a bool tensor"):
        training_loss(**bad, cfg=LossConfig())
    bad = dict(batch, frames_next=batch["frames_next"] * 3)
    with pytest.raises(LossInputError, match=r"^frames_next: values must lie in \[0, 1\]"):
        training_loss(**bad, cfg=LossConfig())


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("phi", "bce", 'LossConfig.phi: unsupported value "bce". Should be one of: l1, l2, dice'),
        ("d", "psnr", 'LossConfig.d: unsupported value "psnr"'),
        ("gamma1", -0.1, r"LossConfig.gamma1: expected a number in \[0, 1\]"),
        ("lambda_m1", -1.0, "LossConfig.lambda_m1: expected a finite number >= 0"),
    ],
)
def test_loss_config_rejects_bad_values(field: str, value: object, message: str) -> None:
    with pytest.raises(LossInputError, match=message):
        LossConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_given_d_terms_give_the_loss_computed_with_them(cfg: LossConfig) -> None:
    # The trainer computes d once per pair of frames (training.walk_pass.walk_similarities) and
    # passes it in; with the same d values the loss is the numpy reference's.
    batch = _batch(seed=9)
    b, t = batch["mask_in_inferred"].shape
    k = batch["key_valid"].shape[1]

    def np_d(x: np.ndarray, y: np.ndarray) -> float:
        return float(ref.similarity(cfg.d, x[None], y[None])[0])

    d_first = np.array([[np_d(batch["frames_in"][i, j], batch["frames_next"][i, j])
                         for j in range(t)] for i in range(b)])  # fmt: skip
    d_second = np.array([[[np_d(batch["key_images"][i, q], batch["frames_next"][i, j])
                           for q in range(k)] for j in range(t)] for i in range(b)])  # fmt: skip
    got = training_loss(**_torch(batch), cfg=cfg, d_first=torch.from_numpy(d_first),
                        d_second=torch.from_numpy(d_second))  # fmt: skip
    want = ref.training_loss(**batch, cfg=dataclasses.asdict(cfg))
    for name, value in want.items():
        assert float(got[name]) == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_given_d_terms_are_checked() -> None:
    batch = _torch(_batch(seed=10))
    with pytest.raises(LossInputError, match=r"^d_first: expected shape \(2, 3\)"):
        training_loss(**batch, cfg=LossConfig(), d_first=torch.ones(2, 2, dtype=torch.float64))
    with pytest.raises(LossInputError, match=r"^d_second: values must lie in \[0, 1\]"):
        training_loss(**batch, cfg=LossConfig(), d_second=torch.full((2, 3, 2), 2.0))
