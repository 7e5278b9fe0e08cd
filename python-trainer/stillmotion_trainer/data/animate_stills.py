"""Real stills with masks -> short clips under random smooth motion: real-texture training video.

Issue J: a model that transfers must learn from real images, but annotated real video is what
nobody has. A still with its lesion mask becomes a clip of `frames` frames whose frame t is the
still seen through a camera that drifts, turns, zooms and breathes:

    frame_t(p) = gain_t * still(A_t^{-1} p + e_t(p)),   mask_t(p) = mask(A_t^{-1} p + e_t(p))

- A_t: a similarity transform about the image centre (shift, rotation, zoom) whose parameters
  follow a random walk with momentum: v_t = MOMENTUM v_{t-1} + sigma * N(0, 1), p_t = p_{t-1} +
  v_t (a camera has inertia: motion is smooth, sometimes fast). Zoom starts at ZOOM0 > 1 so the
  frame mostly stays inside the still; what falls outside is mirrored (BORDER_REFLECT_101), the
  mask with it, so image and mask always agree.
- e_t: a smooth elastic field (a 4x4 grid of random displacements, bicubically upsampled) that
  wanders around rest (e_t = REVERT e_{t-1} + noise): tissue deforms and springs back.
- gain_t: brightness wandering around 1 the same way (lighting changes as the scope moves),
  clipped to [0.7, 1.3].

The motion is known exactly, so every frame's mask is exact and can serve as a key mask: the
dataset written has `keyMask` on every frame `key_every` frames apart and `gtMask` on all.
Deterministic in `seed`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from stillmotion_trainer.data.synthetic.writer import prepare_output, write_manifest, write_png

MOMENTUM = 0.8
REVERT = 0.85  # elastic field and gain return towards rest (no unbounded drift)
ZOOM0 = 1.15  # initial zoom: a margin of the still around the view
GRID = 4  # elastic control points per side


@dataclass(frozen=True)
class MotionStrength:
    """Per-frame random-walk sigmas of the motion parameters (velocity noise)."""

    shift: float = 0.015  # fraction of the frame's shorter side
    rotate_deg: float = 1.5
    zoom: float = 0.015  # log zoom
    elastic: float = 0.006  # fraction of the shorter side, per control point
    gain: float = 0.015

    def scaled(self, factor: float) -> "MotionStrength":
        return MotionStrength(*(factor * v for v in self.__dict__.values()))


def _load(path: Path, channels: int, size: Optional[int]) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB" if channels == 3 else "L")
        if size:
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.float32) / 255.0


def _load_mask(path: Path, size: Optional[int]) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        if size:
            im = im.resize((size, size), Image.NEAREST)
        return (np.asarray(im) >= 128).astype(np.float32)


def animate(
    image: np.ndarray, mask: np.ndarray, frames: int, rng: np.random.Generator,
    strength: MotionStrength = MotionStrength(),
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(H, W[, 3]) image in [0, 1] and (H, W) mask -> (T, H, W[, 3]) frames, (T, H, W) masks."""
    import cv2

    h, w = mask.shape
    side = min(h, w)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    s = strength
    sigma = np.array([s.shift * side, s.shift * side, math.radians(s.rotate_deg), s.zoom])
    pose = np.array([0.0, 0.0, 0.0, math.log(ZOOM0)])  # dx, dy, angle, log zoom
    vel = np.zeros(4)
    grid = np.zeros((2, GRID, GRID), dtype=np.float32)
    gain = 1.0
    out_frames, out_masks = [], []
    for t in range(frames):
        if t > 0:
            vel = MOMENTUM * vel + sigma * rng.standard_normal(4)
            pose = pose + vel
            pose[3] = float(np.clip(pose[3], math.log(1.0), math.log(1.6)))
            noise = s.elastic * side * rng.standard_normal(grid.shape)
            grid = (REVERT * grid + noise).astype(np.float32)
            gain = float(
                np.clip(1 + REVERT * (gain - 1) + s.gain * rng.standard_normal(), 0.7, 1.3)
            )
        dx, dy, angle, log_zoom = pose
        zoom = math.exp(log_zoom)
        cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
        # inverse map: view pixel p -> still pixel R(-angle) (p - c - d) / zoom + c
        px, py = xs - cx - dx, ys - cy - dy
        map_x = cos * px + sin * py + cx
        map_y = -sin * px + cos * py + cy
        elastic = cv2.resize(grid.transpose(1, 2, 0), (w, h), interpolation=cv2.INTER_CUBIC)
        map_x = (map_x + elastic[..., 0]).astype(np.float32)
        map_y = (map_y + elastic[..., 1]).astype(np.float32)
        frame = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        m = cv2.remap(mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        out_frames.append(np.clip(frame * gain, 0.0, 1.0))
        out_masks.append((m >= 0.5).astype(np.float32))
    return np.stack(out_frames), np.stack(out_masks)


def find_stills(root: Path) -> list[tuple[str, Path, Path]]:
    """(id, image, mask) of every still: `images/<id>.*` with `masks/<id>.png`, sorted by id."""
    images = {p.stem: p for p in sorted((root / "images").iterdir()) if p.is_file()}
    masks = {p.stem: p for p in sorted((root / "masks").iterdir()) if p.is_file()}
    missing = sorted(set(images) - set(masks))
    if missing:
        raise FileNotFoundError(f"{root / 'masks'}: no mask for still(s) {', '.join(missing)}")
    return [(k, images[k], masks[k]) for k in sorted(images)]


def animate_stills(
    stills: str | Path,
    out: str | Path,
    *,
    frames: int = 12,
    size: int = 128,
    clips_per_still: int = 1,
    channels: int = 3,
    strength: float = 1.0,
    key_every: int = 1,
    seed: int = 0,
    include: Optional[str] = None,
    overwrite: bool = False,
) -> Path:
    """Write a dataset of animated stills (module docstring); returns the manifest path.

    include: keep only stills whose id starts with one of these comma-separated prefixes.
    """
    root_in, root = Path(stills), Path(out)
    chosen = find_stills(root_in)
    if include:
        prefixes = tuple(p for p in include.split(",") if p)
        chosen = [c for c in chosen if c[0].startswith(prefixes)]
    if not chosen:
        raise ValueError(f"{root_in}: no stills to animate (include={include!r})")
    if frames < 2 or size < 8 or clips_per_still < 1 or key_every < 1:
        raise ValueError("frames >= 2, size >= 8, clips_per_still >= 1 and key_every >= 1")
    prepare_output(root, overwrite)
    rng = np.random.default_rng(seed)
    motion = MotionStrength().scaled(strength)
    videos: list[dict[str, Any]] = []
    for still_id, image_path, mask_path in chosen:
        image = _load(image_path, channels, size)
        mask = _load_mask(mask_path, size)
        for c in range(clips_per_still):
            vid = f"{still_id}-{c}"
            clip, masks = animate(image, mask, frames, rng, motion)
            entries = []
            for t in range(frames):
                pixels = np.rint(clip[t] * 255).astype(np.uint8)
                write_png(root / "frames" / vid / f"{t:06d}.png", pixels)
                write_png(root / "masks" / vid / f"{t:06d}.png", (masks[t] * 255).astype(np.uint8))
                entry: dict[str, Any] = {
                    "image": f"frames/{vid}/{t:06d}.png",
                    "gtMask": f"masks/{vid}/{t:06d}.png",
                }
                if t % key_every == 0:
                    entry["keyMask"] = entry["gtMask"]
                    entry["keySource"] = "clinician"
                entries.append(entry)
            videos.append({"id": vid, "fps": 25, "width": size, "height": size, "frames": entries})
    source: dict[str, Any] = {
        "tool": "python -m stillmotion_trainer animate-stills",
        "from": str(root_in),
    }
    index = root_in / "index.csv"
    if index.is_file():
        with index.open(newline="") as f:
            source["datasets"] = sorted({row.get("dataset", "") for row in csv.DictReader(f)})
    manifest = {
        "format": "stillmotion-dataset",
        "version": 1,
        "name": f"animated stills ({len(chosen)} stills x {clips_per_still})",
        "modality": "endoscopy" if channels == 3 else "ultrasound",
        "channels": channels,
        "source": source,
        "videos": videos,
    }
    return write_manifest(root, manifest)
