"""Measure a camera profile (models/camera_motion.py) on real clips: how a hand-held scope moves.

For each pair of neighbouring frames of a real sequence (realdata layout: `<seq>/frames/*.jpg`,
`<seq>/frame_map.csv` numbering the video frames; only pairs at most `max_gap` video frames apart)
at size x size, f = the Farneback flow from the later frame back to the earlier one
(evaluation/baselines.backward_flow) and the similarity transform closest to it in least
squares:

    f(p) ~ d + [[alpha, -beta], [beta, alpha]] (p - c),   c the frame's centre

(alpha: zoom, 1 + alpha the scale; beta: rotation in radians, both to first order). The profile's
per-frame standard deviations are those of (dx, dy) pooled (a fraction of the frame's side), of
alpha (log zoom) and of beta (rotation). `residual_px` (the root mean square of f minus its fit:
the motion no camera explains: tissue, instruments) is reported beside them, not used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from stillmotion_trainer.evaluation.generation_quality import (
    GenerationQualityError,
    read_frame,
    read_frame_map,
)
from stillmotion_trainer.models.camera_motion import CameraProfile


def fit_similarity(flow: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares (dx, dy, alpha, beta) of the module docstring for a flow (H, W, 2) in pixels,
    and the root mean square of the flow minus the fitted field."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    x = (xs - (w - 1) / 2).ravel()
    y = (ys - (h - 1) / 2).ravel()
    one, zero = np.ones_like(x), np.zeros_like(x)
    a = np.concatenate(
        [np.stack([one, zero, x, -y], axis=1), np.stack([zero, one, y, x], axis=1)]
    )  # (2 H W, 4): rows of fx then of fy
    b = np.concatenate([flow[..., 0].ravel(), flow[..., 1].ravel()]).astype(np.float64)
    params, *_ = np.linalg.lstsq(a, b, rcond=None)
    return params, float(np.sqrt(np.mean((b - a @ params) ** 2)))


def sequence_pairs(folder: Path, max_gap: int) -> list[tuple[Path, Path]]:
    """(earlier, later) frame paths of every neighbouring pair at most max_gap video frames apart
    in every `<seq>` of the realdata layout."""
    if not folder.is_dir():
        raise GenerationQualityError(f"{folder}: not a folder of real sequences")
    pairs = []
    seqs = sorted(p for p in folder.iterdir() if (p / "frame_map.csv").is_file())
    if not seqs:
        raise GenerationQualityError(f"{folder}: no <seq>/frame_map.csv (realdata layout)")
    for seq in seqs:
        rows = read_frame_map(seq)
        for (i0, n0), (i1, n1) in zip(rows[:-1], rows[1:]):
            if n1 - n0 <= max_gap:
                pairs.append((seq / "frames" / f"{i0:06d}.jpg", seq / "frames" / f"{i1:06d}.jpg"))
    return pairs


def measure_camera_profile(
    folder: str | Path,
    *,
    size: int = 128,
    max_gap: int = 1,
    revert: float = 0.8,
    rest_zoom: float = 1.0,
    auto_exposure: bool = False,
    max_zoom: float | None = None,
    keep_lesion: float | None = None,
    channels: int = 3,
) -> tuple[CameraProfile, dict[str, Any]]:
    """The profile of the real sequences under `folder` and a report (per-parameter
    distributions, the residual, the lag-1 correlation of the shift between successive pairs)."""
    from stillmotion_trainer.evaluation.baselines import FarnebackParams, backward_flow, to_gray_u8

    root = Path(folder)
    pairs = sequence_pairs(root, max_gap)
    if len(pairs) < 2:
        raise GenerationQualityError(f"{root}: {len(pairs)} pairs <= {max_gap} frames apart")
    fits, residuals = [], []
    for earlier, later in pairs:
        a = read_frame(earlier, channels, size)
        b = read_frame(later, channels, size)
        params, rms = fit_similarity(backward_flow(to_gray_u8(b), to_gray_u8(a), FarnebackParams()))
        fits.append(params)
        residuals.append(rms)
    p = np.array(fits)  # (pairs, 4)
    profile = CameraProfile(
        shift_std=float(np.concatenate([p[:, 0], p[:, 1]]).std() / size),
        log_zoom_std=float(p[:, 2].std()),
        rotation_std=float(p[:, 3].std()),
        revert=revert,
        rest_zoom=rest_zoom,
        auto_exposure=auto_exposure,
        max_zoom=max_zoom,
        keep_lesion=keep_lesion,
        source={
            "folder": str(root), "size": size, "max_gap": max_gap, "pairs": len(pairs),
            "tool": "python -m stillmotion_trainer camera-profile",
        },  # fmt: skip
    ).validate()
    report = {
        "pairs": len(pairs),
        "percentiles_10_50_90": {
            name: np.percentile(p[:, j], [10, 50, 90]).round(4).tolist()
            for j, name in enumerate(("dx_px", "dy_px", "alpha", "beta"))
        },
        "residual_px": np.percentile(residuals, [10, 50, 90]).round(3).tolist(),
        "shift_lag1_correlation": _lag1(pairs, p),
    }
    return profile, report


def _lag1(pairs: list[tuple[Path, Path]], p: np.ndarray) -> Optional[float]:
    """Correlation of dx (and dy) between pairs that follow each other (one's later frame the
    next's earlier one): about 0 means the velocity is uncorrelated from frame to frame."""
    first, second = [], []
    for k in range(1, len(pairs)):
        if pairs[k][0] == pairs[k - 1][1]:
            first += [p[k - 1, 0], p[k - 1, 1]]
            second += [p[k, 0], p[k, 1]]
    return float(np.corrcoef(first, second)[0, 1]) if len(first) > 2 else None
