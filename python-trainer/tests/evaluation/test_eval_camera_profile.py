"""Camera profile measured on real-layout clips (evaluation/camera_profile.py): the similarity fit
recovers a known transform, the measurement reads only neighbouring frames and finds the shifts
it was given, and a folder without sequences is named."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from stillmotion_trainer.evaluation.camera_profile import fit_similarity, measure_camera_profile
from stillmotion_trainer.evaluation.generation_quality import GenerationQualityError


def test_fit_recovers_a_similarity_field_exactly():
    h, w = 20, 30
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = xs - (w - 1) / 2, ys - (h - 1) / 2
    dx, dy, alpha, beta = 1.5, -2.0, 0.03, -0.02
    flow = np.stack([dx + alpha * x - beta * y, dy + beta * x + alpha * y], axis=-1)
    params, rms = fit_similarity(flow)
    assert params == pytest.approx([dx, dy, alpha, beta], abs=1e-9)
    assert rms == pytest.approx(0, abs=1e-9)
    # a checkerboard of +-1 px in x: no camera makes it; rms over both channels 1 / sqrt(2)
    flow[..., 0] += np.where((xs + ys) % 2 == 0, 1.0, -1.0)
    params, rms = fit_similarity(flow)
    assert rms == pytest.approx(2**-0.5, abs=0.01)
    assert params == pytest.approx([dx, dy, alpha, beta], abs=0.01)


def _texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random texture, larger than the frames so shifted crops stay inside it."""
    coarse = rng.random((size // 8, size // 8, 3))
    big = Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    return np.asarray(big)


def test_measurement_reads_neighbours_and_finds_their_shifts(tmp_path):
    rng = np.random.default_rng(0)
    texture = _texture(256, rng)
    seq = tmp_path / "seq1"
    (seq / "frames").mkdir(parents=True)
    offsets = [(40, 40), (43, 40), (43, 37), (90, 90), (94, 90)]  # frames 1, 2, 3, 10, 11
    numbers = [1, 2, 3, 10, 11]
    with (seq / "frame_map.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["index", "original_file"])
        for i, ((ox, oy), n) in enumerate(zip(offsets, numbers)):
            crop = texture[oy : oy + 96, ox : ox + 96]
            Image.fromarray(crop).save(seq / "frames" / f"{i:06d}.jpg", quality=95)
            out.writerow([i, f"{n:04d}.png"])
    profile, report = measure_camera_profile(tmp_path, size=96, max_gap=1)
    assert report["pairs"] == 3  # 3 -> 10 is 7 video frames apart: left out
    # shifts (dx, dy): (3, 0), (0, -3), (4, 0): content moves against the camera
    dxs = report["percentiles_10_50_90"]["dx_px"]
    assert dxs[1] == pytest.approx(3.0, abs=0.5)
    expected = np.std([3.0, 0.0, 4.0, 0.0, -3.0, 0.0]) / 96
    assert profile.shift_std == pytest.approx(expected, rel=0.15)
    assert profile.source["pairs"] == 3
    json.dumps(report)


def test_a_folder_without_sequences_is_named(tmp_path):
    with pytest.raises(GenerationQualityError, match="frame_map.csv"):
        measure_camera_profile(tmp_path)
    with pytest.raises(GenerationQualityError, match="nowhere: not a folder"):
        measure_camera_profile(tmp_path / "nowhere")
