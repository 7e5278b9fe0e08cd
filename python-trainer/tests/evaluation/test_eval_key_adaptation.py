"""Key-frame adaptation (evaluation/key_adaptation.py): the correction fitted to a video's key
frames before propagating it.

The geometry helpers against independent computations (3x3 homogeneous matrices, numpy
morphology), what adaptation may and may not change in the model, and the effect it exists for:
on the vendored real clip (laryngoscopy, data/real/vocalfolds-seq8-128, keys every 10 frames) the
shipped model propagates better after fitting its correction to the key frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stillmotion_trainer.cli import main
from stillmotion_trainer.data.manifest import load_manifest
from stillmotion_trainer.evaluation.evaluate import load_video, score_masks
from stillmotion_trainer.evaluation.key_adaptation import (
    AdaptationError,
    AdaptOptions,
    adapt_to_keys,
    compose,
    morph,
    random_affines,
    resample,
    training_samples,
)
from stillmotion_trainer.evaluation.propagation import propagate_masks
from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.training.checkpoint import Checkpoint

REPO = Path(__file__).resolve().parents[3]
MODEL = REPO / "models" / "real-propagation.pt"
CLIP = REPO / "data" / "real" / "vocalfolds-seq8-128"


def homogeneous(theta: torch.Tensor) -> np.ndarray:
    """(n, 2, 3) -> (n, 3, 3) with the row (0, 0, 1): composition is matrix product."""
    out = np.zeros((theta.shape[0], 3, 3))
    out[:, :2] = theta.numpy()
    out[:, 2, 2] = 1.0
    return out


def test_compose_is_the_product_of_homogeneous_matrices():
    rng = torch.Generator().manual_seed(0)
    a = random_affines(5, 30.0, (0.7, 1.4), 0.2, rng)
    b = random_affines(5, 30.0, (0.7, 1.4), 0.2, rng)
    expected = homogeneous(a) @ homogeneous(b)
    assert np.allclose(homogeneous(compose(a, b)), expected, atol=1e-6)


def test_random_affines_stay_within_their_ranges():
    theta = random_affines(2000, 20.0, (0.8, 1.25), 0.15, torch.Generator().manual_seed(1))
    linear = theta[:, :, :2].numpy()
    zoom = 1.0 / np.sqrt(np.abs(np.linalg.det(linear)))  # the matrix maps output -> input
    angle = np.degrees(np.arctan2(linear[:, 1, 0], linear[:, 0, 0]))
    assert zoom.min() >= 0.8 - 1e-5 and zoom.max() <= 1.25 + 1e-5
    assert np.abs(angle).max() <= 20.0 + 1e-4
    assert np.abs(theta[:, :, 2].numpy()).max() <= 2 * 0.15 + 1e-6  # affine_grid spans 2


def test_resample_by_the_identity_returns_the_input():
    x = torch.rand(2, 3, 16, 20)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)
    assert torch.allclose(resample(x, identity), x, atol=1e-5)


def test_morph_matches_numpy_dilation_and_erosion():
    mask = np.zeros((1, 1, 12, 12), np.float32)
    mask[0, 0, 3:8, 4:9] = 1.0

    def numpy_morph(m: np.ndarray, r: int, op) -> np.ndarray:  # square window, zeros outside
        padded = np.pad(m[0, 0], r, constant_values=0.0 if op is np.max else 1.0)
        out = np.array(
            [
                [op(padded[i : i + 2 * r + 1, j : j + 2 * r + 1]) for j in range(m.shape[-1])]
                for i in range(m.shape[-2])
            ]
        )
        return out[None, None]

    t = torch.from_numpy(mask)
    assert np.array_equal(morph(t, 2).numpy(), numpy_morph(mask, 2, np.max))
    assert np.array_equal(morph(t, -1).numpy(), numpy_morph(mask, 1, np.min))
    assert torch.equal(morph(t, 0), t)


def test_training_samples_pair_a_moved_frame_with_its_mask_and_a_misplaced_copy():
    frames = torch.rand(2, 3, 32, 32)
    masks = torch.zeros(2, 1, 32, 32)
    masks[:, :, 10:22, 12:20] = 1.0
    rng = torch.Generator().manual_seed(3)
    image, target, carried = training_samples(frames, masks, AdaptOptions(batch=6), rng)
    assert image.shape == (6, 3, 32, 32) and target.shape == carried.shape == (6, 1, 32, 32)
    assert set(np.unique(target.numpy())) <= {0.0, 1.0}
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert 0.0 <= float(carried.min()) and float(carried.max()) <= 1.0
    assert not torch.equal(carried, target)  # the correction has something to correct


def _tiny_refine_generator() -> torch.nn.Module:
    cfg = generator_config(
        "tiny", next_frame_input=True, mask_head="warp", mask_refine=True, refine_width=4
    )
    return build_generator(cfg).eval()


def test_adaptation_changes_a_copy_of_the_correction_only_and_is_deterministic():
    torch.manual_seed(0)
    model = _tiny_refine_generator()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frames = torch.rand(2, 3, 32, 32)
    masks = torch.zeros(2, 1, 32, 32)
    masks[:, :, 8:20, 8:24] = 1.0
    options = AdaptOptions(steps=3, batch=4)
    adapted = adapt_to_keys(model, frames, masks, options)
    again = adapt_to_keys(model, frames, masks, options)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key}: the caller's model changed"
    changed = {k for k, v in adapted.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("refine_net.") for k in changed), changed
    for key, value in adapted.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), f"{key}: not deterministic"
    assert not adapted.training
    assert not any(p.requires_grad for p in adapted.parameters())


def test_a_generator_without_a_correction_is_refused():
    cfg = generator_config("tiny", next_frame_input=True, mask_head="warp", mask_refine=False)
    with pytest.raises(AdaptationError, match="mask_refine"):
        adapt_to_keys(build_generator(cfg), torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(AdaptationError, match="steps"):
        AdaptOptions(steps=-1).check()


@pytest.mark.slow
def test_adapting_to_the_key_frames_improves_the_shipped_model_on_the_vendored_real_clip():
    # 40 frames (keys 0, 10, 20, 30): measured Dice 0.542 without adaptation, 0.631 after the
    # default 300 steps (development run, one thread); the margin asked for here is under half.
    torch.set_num_threads(1)
    manifest = load_manifest(CLIP)
    data = load_video(manifest, manifest.videos[0], (128, 128))
    frames, gt = data.frames[:40], data.gt[:40]
    keys = [t for t in range(40) if data.has_gt[t] and t % 10 == 0]
    scored = [t for t in range(40) if data.has_gt[t] and t not in keys]
    model, _, _ = load_generator_from_checkpoint(str(MODEL))
    adapted = adapt_to_keys(model, frames[keys], gt[keys], AdaptOptions())

    def dice_of(generator: torch.nn.Module) -> float:
        with torch.no_grad():
            masks = propagate_masks(generator, frames, {k: gt[k] for k in keys}, reference="key")
        scores = score_masks(masks.masks, gt.numpy(), scored, 2.0)
        return float(np.mean([s["dice"] for s in scores]))

    plain, fitted = dice_of(model), dice_of(adapted)
    assert fitted > plain + 0.04, (plain, fitted)


# --- the `adapt` command ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapt_work(tmp_path_factory):
    from eval_helpers import save_tiny_checkpoint

    from stillmotion_trainer.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("adapt")
    generate_dataset(root / "ds", "endoscopy", num_videos=2, num_frames=5, size=(20, 20), seed=1)
    refine = save_tiny_checkpoint(
        str(root / "refine.pt"), next_frame_input=True, mask_head="warp", mask_refine=True
    )
    plain = save_tiny_checkpoint(str(root / "plain.pt"))
    return root, str(root / "ds"), refine, plain


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_adapt_writes_a_weights_only_checkpoint_with_only_the_correction_changed(
    adapt_work, capsys
):
    root, ds, refine, _ = adapt_work
    out = root / "adapted.pt"
    argv = ["adapt", "--checkpoint", refine, "--dataset", ds, "--steps", "2", "--out", str(out)]
    assert main(argv) == 0
    printed = _last_json(capsys)
    assert printed["ok"] is True and printed["out"] == str(out.resolve())
    assert printed["videos"] == ["video-000", "video-001"] and printed["key_frames"] == 2
    adapted, original = Checkpoint.load(out), Checkpoint.load(refine)
    assert adapted.training is None and adapted.generator_config == original.generator_config
    changed = {k for k in original.model if not torch.equal(original.model[k], adapted.model[k])}
    assert changed and all(k.startswith("refine_net.") for k in changed)
    assert adapted.config["adaptation"]["steps"] == 2
    assert adapted.config["adaptation"]["videos"] == ["video-000", "video-001"]
    assert not list(root.glob("*.tmp*"))


@pytest.mark.parametrize(
    "case, code, says",
    [
        ("no_correction", "FAILED_PRECONDITION", "has none"),
        ("unknown_video", "NOT_FOUND", "no video 'video-9'"),
        ("bad_steps", "INVALID_ARGUMENT", "steps >= 0"),
    ],
)
def test_adapt_errors_are_one_json_line_and_write_nothing(adapt_work, capsys, case, code, says):
    root, ds, refine, plain = adapt_work
    out = root / f"{case}.pt"
    argv = ["adapt", "--checkpoint", plain if case == "no_correction" else refine]
    argv += ["--dataset", ds, "--out", str(out)]
    argv += {"unknown_video": ["--video", "video-9"], "bad_steps": ["--steps", "-1"]}.get(case, [])
    assert main(argv) == 2
    printed = _last_json(capsys)
    assert printed["ok"] is False and printed["code"] == code and says in printed["error"]
    assert not out.exists()
