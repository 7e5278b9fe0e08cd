"""Synthetic datasets for demos and tests, deterministic by seed (same seed -> same bytes).

Layout written (docs/dataset-format.md):
    manifest.json
    frames/<video-id>/<frame:06d>.png
    masks/<video-id>/<frame:06d>.png     ground truth; key frames point at the same file
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stillmotion_trainer.data.keyframes import score_frames, select_keyframes
from stillmotion_trainer.data.synthetic import endoscopy, ultrasound
from stillmotion_trainer.data.synthetic.common import MOTION_STYLES
from stillmotion_trainer.data.synthetic.writer import prepare_output, write_manifest, write_png

KINDS = {"endoscopy": (endoscopy.render_video, 3), "ultrasound": (ultrasound.render_video, 1)}
MOTIONS = tuple(MOTION_STYLES)  # easy, hard, sweep, shake
FPS = 25.0


def _pick_keys(frames: list[np.ndarray], masks: list[np.ndarray], k: int) -> list[int]:
    """Key frames by the shared scorer (sharp, well exposed, lesion visible and central)."""
    images = [f[None] if f.ndim == 2 else f.transpose(2, 0, 1) for f in frames]
    scores = score_frames(
        [i.astype(np.float64) / 255.0 for i in images], [m[None].astype(np.float64) for m in masks]
    )
    return select_keyframes(scores, k)


def generate_dataset(
    out_dir: str | Path,
    kind: str = "endoscopy",
    num_videos: int = 8,
    num_frames: int = 24,
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
    keyframes_per_video: int = 1,
    motion: str = "easy",
    gt_masks: bool = True,
    overwrite: bool = False,
) -> Path:
    """Render a synthetic dataset into out_dir and return its manifest path.

    size is (H, W). Key frames are chosen by data.keyframes among frames showing the lesion;
    with gt_masks=False only key frames get a mask file. `motion` is one style or several joined
    by commas ("easy,hard"): video i then moves in style i mod n, so a training set can mix
    slow and fast motion.
    """
    if kind not in KINDS:
        raise ValueError(f'Unsupported kind: "{kind}". Should be one of: {", ".join(KINDS)}')
    styles = motion.split(",")
    for style in styles:
        if style not in MOTIONS:
            raise ValueError(
                f'Unsupported motion: "{style}". Should be one of: {", ".join(MOTIONS)} '
                "(or several joined by commas)"
            )
    h, w = int(size[0]), int(size[1])
    if not (8 <= h <= 4096 and 8 <= w <= 4096):
        raise ValueError(f"size must be between 8 and 4096 per side, got {size}")
    if num_videos < 1 or num_frames < 1:
        raise ValueError(f"need at least one video and one frame, got {num_videos}x{num_frames}")
    if not 0 <= keyframes_per_video <= num_frames:
        raise ValueError(f"keyframes_per_video must be in [0, {num_frames}]")
    render, channels = KINDS[kind]
    root = Path(out_dir)
    prepare_output(root, overwrite)
    videos: list[dict[str, Any]] = []
    for vi in range(num_videos):
        rng = np.random.default_rng([seed, vi])
        frames, masks = render(rng, num_frames, (h, w), styles[vi % len(styles)])
        keys = set(_pick_keys(frames, masks, keyframes_per_video) if keyframes_per_video else [])
        vid = f"video-{vi:03d}"
        entries: list[dict[str, Any]] = []
        for t, (frame, mask) in enumerate(zip(frames, masks)):
            image = f"frames/{vid}/{t:06d}.png"
            mask_rel = f"masks/{vid}/{t:06d}.png"
            write_png(root / image, frame)
            entry: dict[str, Any] = {"image": image}
            if gt_masks or t in keys:
                write_png(root / mask_rel, mask.astype(np.uint8) * 255)
            if t in keys:
                entry["keyMask"] = mask_rel
                entry["keySource"] = "synthetic"
            if gt_masks:
                entry["gtMask"] = mask_rel
            entries.append(entry)
        videos.append({"id": vid, "fps": FPS, "width": w, "height": h, "frames": entries})
    manifest = {
        "format": "stillmotion-dataset",
        "version": 1,
        "name": f"synthetic-{kind}-{'+'.join(styles)}-seed{seed}",
        "description": f"Synthetic {kind}-like videos ({motion} motion) from stillmotion synth.",
        "modality": kind,
        "channels": channels,
        "source": {
            "tool": "stillmotion_trainer.data.synthetic",
            "kind": kind,
            "motion": motion,
            "seed": seed,
            "size": [h, w],
            "numVideos": num_videos,
            "numFrames": num_frames,
            "keyframesPerVideo": keyframes_per_video,
        },
        "videos": videos,
    }
    return write_manifest(root, manifest)
