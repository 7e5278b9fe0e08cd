"""Still -> video quality numbers (evaluation/generation_quality.py), each checked against an
independent computation, and the whole measurement on a real checkpoint file and real PNGs."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stillmotion_trainer.evaluation import generation_quality as gq
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.training.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _textured(h: int = 48, w: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth random texture (3, H, W) in [0, 1]: optical flow has something to follow."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.random((h // 6, w // 6, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1).transpose(2, 0, 1)


def test_colour_drift_matches_per_channel_statistics():
    rng = np.random.default_rng(1)
    a, b = rng.random((3, 9, 7)), rng.random((3, 9, 7)) * 0.5 + 0.2
    got = gq.colour_drift(a, b)
    for c in range(3):  # the textbook formulas, one pixel at a time
        pa, pb = list(a[c].flat), list(b[c].flat)
        mean_a, mean_b = sum(pa) / len(pa), sum(pb) / len(pb)
        std_a = (sum((x - mean_a) ** 2 for x in pa) / len(pa)) ** 0.5
        std_b = (sum((x - mean_b) ** 2 for x in pb) / len(pb)) ** 0.5
        assert got["mean"][c] == pytest.approx(abs(mean_b - mean_a), abs=1e-12)
        assert got["std"][c] == pytest.approx(abs(std_b - std_a), abs=1e-12)


def test_laplacian_variance_matches_opencv():
    import cv2

    image = np.random.default_rng(2).random((3, 20, 17))
    grey = image.mean(axis=0)
    lap = cv2.Laplacian(grey, cv2.CV_64F, ksize=1)[1:-1, 1:-1]  # kernel [0 1 0; 1 -4 1; 0 1 0]
    assert gq.laplacian_variance(image) == pytest.approx(float(lap.var()), rel=1e-12)


def test_sharpness_ratio_falls_when_blurred_and_is_one_for_a_copy():
    import cv2

    image = np.random.default_rng(3).random((3, 32, 32)).astype(np.float32)
    blurred = np.stack([cv2.GaussianBlur(c, (5, 5), 1.0) for c in image])
    assert gq.sharpness_ratio(image, image) == pytest.approx(1.0)
    assert gq.sharpness_ratio(image, blurred) < 0.2
    assert np.isnan(gq.sharpness_ratio(np.full((1, 8, 8), 0.5), image[:1, :8, :8]))


def test_consecutive_ssim_is_one_for_a_copy_and_lower_for_motion():
    image = _textured()
    frozen = np.stack([image] * 4)
    moving = np.stack([np.roll(image, 3 * t, axis=2) for t in range(4)])
    assert gq.consecutive_ssim(frozen) == pytest.approx([1.0] * 3)
    assert all(s < 0.95 for s in gq.consecutive_ssim(moving))


def test_area_ratio_counts_pixels_at_half():
    a = np.zeros((1, 10, 10))
    a[0, 2:6, 2:6] = 1.0  # 16 pixels
    b = np.zeros((1, 10, 10))
    b[0, 0:4, 0:6] = 0.6  # 24 pixels >= 0.5
    b[0, 9, 9] = 0.49  # below the threshold
    assert gq.area_ratio(a, b) == pytest.approx(24 / 16)
    assert np.isnan(gq.area_ratio(np.zeros((1, 4, 4)), b[:, :4, :4]))


def test_distribution_matches_numpy_and_drops_nans():
    d = gq.distribution([float(x) for x in range(1, 11)] + [float("nan")])
    assert d["median"] == 5.5 and d["min"] == 1.0 and d["max"] == 10.0 and d["mean"] == 5.5
    assert d["p10"] == pytest.approx(1.9) and d["p90"] == pytest.approx(9.1)


def test_carry_mask_moves_by_an_integer_field_like_a_shift():
    mask = np.zeros((1, 16, 16), dtype=np.float32)
    mask[0, 5:9, 4:8] = 1.0
    fields = np.zeros((2, 2, 16, 16), dtype=np.float32)
    fields[:, 0] = -1.0  # out(p) = in(p - 1 in x): content moves one pixel right per step
    expected = np.roll(mask, 2, axis=2)
    assert np.abs(gq.carry_mask(mask, fields) - expected).max() < 1e-5


def test_clip_quality_of_a_translating_clip():
    image = _textured(64, 64)
    mask = np.zeros((1, 64, 64), dtype=np.float32)
    mask[0, 20:40, 20:36] = 1.0
    frames = np.stack([np.roll(image, t, axis=2) for t in range(6)])
    masks = np.stack([np.roll(mask, t, axis=2) for t in range(6)])
    record = gq.clip_quality(gq.Rollout(frames, masks, None))
    assert record["colour_drift_max"] < 0.02  # a roll keeps the pixel values
    assert record["area_ratio"] == pytest.approx(1.0)
    assert record["dice_flow"] > 0.85  # Farneback follows the shift, the mask agrees
    assert record["dice_model_motion"] is None
    assert len(record["consecutive_ssim"]) == 5


def _write_stills(root: Path, n: int = 2) -> None:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = ["id,dataset"]
    for i in range(n):
        pixels = (_textured(40, 56, seed=i).transpose(1, 2, 0) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"s{i}.png")
        mask = np.zeros((40, 56), dtype=np.uint8)
        mask[10:25, 15:35] = 255
        Image.fromarray(mask).save(root / "masks" / f"s{i}.png")
        rows.append(f"s{i},set{i % 2}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")


def _image_warp_checkpoint(path: Path) -> None:
    cfg = generator_config(
        "tiny", next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp"
    )
    torch.manual_seed(0)
    model = build_generator(cfg)
    import dataclasses

    Checkpoint(model=model.state_dict(), generator_config=dataclasses.asdict(cfg)).save(path)


def test_untrained_warp_head_keeps_the_still_exactly(tmp_path):
    _write_stills(tmp_path / "stills")
    _image_warp_checkpoint(tmp_path / "g.pt")
    report = gq.generation_quality(tmp_path / "g.pt", tmp_path / "stills", frames=4, size=32)
    assert report["image_head"] == "warp" and report["summary"]["clips"] == 2
    assert set(report["by_dataset"]) == {"set0", "set1"}
    for clip in report["clips"]:  # an untrained warp head copies: a still, not yet a video
        assert clip["colour_drift_max"] < 1e-4
        assert clip["sharpness_ratio"] == pytest.approx(1.0, abs=1e-3)
        assert clip["area_ratio"] == 1.0
        assert clip["dice_model_motion"] == 1.0
        assert min(clip["consecutive_ssim"]) > 0.999


def test_command_writes_the_report_and_names_a_bad_folder(tmp_path):
    _write_stills(tmp_path / "stills", n=1)
    _image_warp_checkpoint(tmp_path / "g.pt")
    cmd = [sys.executable, "-m", "stillmotion_trainer", "generation-quality",
           "--checkpoint", str(tmp_path / "g.pt"), "--frames", "2", "--size", "32"]  # fmt: skip
    env = {"STILLMOTION_THREADS": "1", "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(cmd + ["--stills", str(tmp_path / "stills"), "--out",
                        str(tmp_path / "r.json")], capture_output=True, text=True, cwd=ROOT,
                        env=env)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    line = json.loads(ok.stdout.strip().splitlines()[-1])
    assert line["ok"] and line["summary"]["clips"] == 1
    assert len(json.loads((tmp_path / "r.json").read_text())["clips"]) == 1
    half = subprocess.run(cmd + ["--stills", str(tmp_path / "stills"), "--compose",
                          "--motion-downsample", "2"], capture_output=True, text=True, cwd=ROOT,
                          env=env)  # fmt: skip
    assert half.returncode == 0, half.stderr
    assert json.loads(half.stdout.strip().splitlines()[-1])["motion_downsample"] == 2
    bad = subprocess.run(cmd + ["--stills", str(tmp_path)], capture_output=True, text=True,
                         cwd=ROOT, env=env)  # fmt: skip
    assert bad.returncode == 2
    err = json.loads(bad.stdout.strip().splitlines()[-1])
    assert err["code"] == "INVALID_ARGUMENT" and str(tmp_path) in err["error"]


def test_an_unreadable_still_is_named(tmp_path):
    _write_stills(tmp_path / "stills", n=1)
    (tmp_path / "stills" / "images" / "s0.png").write_bytes(b"not a png")
    _image_warp_checkpoint(tmp_path / "g.pt")
    with pytest.raises(gq.GenerationQualityError, match=r"s0\.png: cannot read"):
        gq.generation_quality(tmp_path / "g.pt", tmp_path / "stills", frames=1, size=32)


def test_composed_roll_out_samples_the_still_once_at_the_summed_field():
    from tests.models.test_model_image_warp import _set_head

    from stillmotion_trainer.models.detail_sampling import sample_detailed, split_detail

    cfg = generator_config(
        "tiny", next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp"
    )
    torch.manual_seed(0)
    model = build_generator(cfg).eval()
    _set_head(model.image_model, fx=-0.4, fy=0.3, r=0.0)  # a constant fractional field
    image = _textured(32, 32, seed=3)
    mask = np.zeros((1, 32, 32), dtype=np.float32)
    mask[0, 10:20, 10:20] = 1.0
    composed = gq.roll_out_composed(model, image, mask, 4)
    sequential = gq.roll_out(model, image, mask, 4)
    field = torch.tensor([-1.6, 1.2]).view(1, 2, 1, 1).expand(1, 2, 32, 32)  # 4 x (-0.4, 0.3)
    still = torch.from_numpy(image)[None]  # sampled detail-preserving (models/detail_sampling)
    once = sample_detailed(still, split_detail(still, 1.0), field)[0].numpy().clip(0, 1)
    inner = (slice(None), slice(6, -6), slice(6, -6))  # beyond the bicubic reach of the edges
    assert np.abs(composed.frames[-1][inner] - once[inner]).max() < 1e-4
    # resampling the previous frame 4 times is not the same as sampling the still once
    assert (
        np.abs(sequential.frames[-1][inner] - once[inner]).max()
        > 10 * np.abs(composed.frames[-1][inner] - once[inner]).max()
    )
    # the mask is the still's mask moved by the same composed map, warped once (bilinear)
    from stillmotion_trainer.models.warp import warp

    mask_once = warp(torch.from_numpy(mask)[None], field)[0].numpy()
    assert np.abs(composed.masks[-1] - mask_once).max() < 1e-4
    assert composed.fields.shape == (4, 2, 32, 32)
    expected = np.array([-0.4, 0.3]).reshape(1, 2, 1, 1)
    assert np.abs(composed.fields - expected)[..., 6:-6, 6:-6].max() < 1e-4


def test_motion_px_measures_a_known_translation():
    image = _textured(64, 64, seed=4)
    shifted = np.roll(image, 2, axis=2)  # content 2 px to the right
    assert gq.motion_px(image, image) < 0.05
    assert abs(gq.motion_px(image, shifted) - 2.0) < 0.3


def test_real_ssim_by_gap_groups_pairs_by_video_frames_apart(tmp_path):
    seq = tmp_path / "seq1"
    (seq / "frames").mkdir(parents=True)
    base = _textured(48, 48, seed=5)
    names = ["0001.png", "0002_l.png", "0005.png"]  # gaps 1 and 3, a suffixed name
    for i, name in enumerate(names):
        frame = np.roll(base, i, axis=2).transpose(1, 2, 0)
        Image.fromarray((frame * 255).astype(np.uint8)).save(seq / "frames" / f"{i:06d}.jpg")
    rows = "".join(f"{i},{n}\n" for i, n in enumerate(names))
    (seq / "frame_map.csv").write_text("index,original_file\n" + rows)
    report = gq.real_ssim_by_gap(tmp_path, 48)
    assert report["pairs"] == 2
    assert sorted(report["by_gap"]) == ["1", "3"]
    assert report["by_gap"]["1"]["pairs"] == 1
    assert 0.5 < report["by_gap"]["1"]["motion_px"]["median"] < 1.5  # the 1 px roll


def test_real_clip_identity_scores_each_windows_last_frame_against_its_first(tmp_path):
    seq = tmp_path / "seq1"
    (seq / "frames").mkdir(parents=True)
    (seq / "masks").mkdir()
    base = _textured(48, 48, seed=6)
    for i in range(6):  # frames 0..5; the last is darker by 0.1 and its lesion twice as wide
        frame = (base - (0.1 if i == 5 else 0.0)).clip(0, 1).transpose(1, 2, 0)
        Image.fromarray(np.rint(frame * 255).astype(np.uint8)).save(
            seq / "frames" / f"{i:06d}.jpg", quality=100
        )
        mask = np.zeros((48, 48), np.uint8)
        mask[10:20, 10 : (30 if i == 5 else 20)] = 255
        Image.fromarray(mask).save(seq / "masks" / f"{i:06d}.png")
    report = gq.real_clip_identity(tmp_path, 48, frames=4, every=1)
    assert report["windows"] == 2  # windows 0..4 and 1..5
    drift = report["colour_drift_max"]
    assert drift["min"] < 0.01 and drift["max"] == pytest.approx(0.1, abs=0.02)
    assert report["colour_drift_ok"] == 1
    assert report["area_ratio"]["min"] == pytest.approx(1.0)
    assert report["area_ratio"]["max"] == pytest.approx(2.0)
    assert report["area_ok"] == 1


def test_composed_options_are_refused_without_compose_and_name_the_profile(tmp_path):
    assert gq.composed_options(False) == gq.composed_options(True)
    with pytest.raises(gq.GenerationQualityError, match="residual 0.5.*only with compose"):
        gq.composed_options(False, residual=0.5)
    with pytest.raises(gq.GenerationQualityError, match="camera_strength: expected"):
        gq.composed_options(True, camera_strength=-1)
    with pytest.raises(gq.GenerationQualityError, match="nowhere.json: cannot read"):
        gq.composed_options(True, camera=tmp_path / "nowhere.json")
