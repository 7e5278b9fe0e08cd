"""Endoscopy-like synthetic video: lumen, pink tissue, a polyp-like lesion, a moving camera.

Per frame (view units: 1.0 = shorter side):
1. camera pose of the motion style (common.MOTION_STYLES: "hard" has larger steps, zoom,
   rotation, jumps, and a short excursion that carries the lesion out of view and back;
   "sweep" and "shake" are styles held out of training);
2. the scene sampled at world coordinates: textured tissue with vessels, and a lobed lesion
   with its own texture and dome shading ("hard": the tissue also deforms);
3. optics: dark lumen, vignetting, a circular field stop, specular highlights;
4. motion blur = the average of renders along the pose change during the exposure;
5. sensor noise, then 8-bit quantisation. The mask is the lesion inside the field stop.
"""

from __future__ import annotations

import numpy as np

from stillmotion_trainer.data.synthetic.common import (
    Fractal,
    Pose,
    blob_radius,
    quantise,
    motion_path,
    to_world,
    view_grid,
)

TISSUE = np.array([0.86, 0.47, 0.42])
VESSEL = np.array([0.55, 0.12, 0.14])
LESION = np.array([0.98, 0.74, 0.58])
BLUR_SAMPLES = 5


class EndoscopyScene:
    """One video's world: textures, lesion shape and optics, all drawn from `rng`."""

    def __init__(self, rng: np.random.Generator, hard: bool) -> None:
        self.hard = hard
        self.tissue = Fractal(rng, cell=0.5)
        self.vessels = Fractal(rng, cell=0.35, octaves=2)
        self.lesion_tex = Fractal(rng, cell=0.08, octaves=3)
        self.tint = 1.0 + rng.normal(0, 0.04, 3)
        self.radius = rng.uniform(0.13, 0.2)
        self.harmonics = np.stack([rng.uniform(0, 0.12, 3), rng.uniform(0, 2 * np.pi, 3)], axis=1)
        self.lesion_xy = rng.uniform(-0.1, 0.1, 2)
        lumen_angle = rng.uniform(0, 2 * np.pi)
        self.lumen_xy = 0.35 * np.array([np.cos(lumen_angle), np.sin(lumen_angle)])
        self.speculars = rng.normal(0, 0.12, (rng.integers(3, 7), 2)) + self.lesion_xy
        self.deform_phase = rng.uniform(0, 2 * np.pi, 2)

    def _deform(self, wx: np.ndarray, wy: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        if not self.hard:
            return wx, wy
        a, k, w = 0.04, 2 * np.pi / 0.9, 0.5  # amplitude, spatial and temporal frequency
        px, py = self.deform_phase
        return wx + a * np.sin(k * wy + w * t + px), wy + a * np.sin(k * wx + w * t + py)

    def lesion_mask(self, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
        """Signed inside-ness: > 0 inside the lesion (in view-unit distance from the edge)."""
        dx, dy = wx - self.lesion_xy[0], wy - self.lesion_xy[1]
        return blob_radius(np.arctan2(dy, dx), self.radius, self.harmonics) - np.hypot(dx, dy)

    def render(self, u: np.ndarray, v: np.ndarray, pose: Pose, t: float, px: float) -> np.ndarray:
        """Scene colour (H, W, 3) before optics; `px` = one pixel in view units."""
        wx, wy = self._deform(*to_world(u, v, pose), t)
        base = 0.72 + 0.5 * (self.tissue(wx, wy) - 0.5)
        ridge = np.abs(self.vessels(wx, wy) - 0.5)
        vessel = np.clip(1.0 - ridge / 0.025, 0.0, 1.0)[..., None] * 0.6
        colour = (TISSUE * self.tint)[None, None] * base[..., None]
        colour = colour * (1 - vessel) + VESSEL[None, None] * vessel
        inside = self.lesion_mask(wx, wy)
        cover = np.clip(inside / (1.5 * px / pose.zoom) + 0.5, 0.0, 1.0)[..., None]  # anti-aliased
        # the raised lesion shades its own rim and casts a thin shadow on the tissue around it
        dome = np.sqrt(np.clip(inside / self.radius, 0.0, 1.0))
        shadow = 1.0 - 0.35 * np.exp(-((np.minimum(inside, 0.0) / 0.025) ** 2))
        texture = self.lesion_tex(wx, wy) - 0.5
        lesion = LESION[None, None] * (0.55 + 0.4 * dome + 0.5 * texture)[..., None]
        colour = colour * shadow[..., None]
        return colour * (1 - cover) + lesion * cover


def render_video(
    rng: np.random.Generator, num_frames: int, size: tuple[int, int], motion: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames as (H, W, 3) uint8, masks as (H, W) bool) for one video."""
    # every style but "easy" also deforms the tissue, enlarges highlights and flashes glare
    hard = motion != "easy"
    h, w = size
    scene = EndoscopyScene(rng, hard)
    poses = motion_path(rng, num_frames, motion)
    u, v = view_grid(h, w)
    px = 1.0 / min(h, w)
    r = np.hypot(u, v) / np.hypot(w, h) * min(h, w) * 2  # 1 at the frame corners
    field = np.clip((0.93 - r) / 0.03, 0.0, 1.0)  # circular field stop, soft 3% edge
    vignette = 1.0 - 0.55 * r**2
    frames, masks = [], []
    for t, pose in enumerate(poses):
        prev = poses[t - 1] if t > 0 else pose
        samples = [Pose.lerp(prev, pose, (j + 1) / BLUR_SAMPLES) for j in range(BLUR_SAMPLES)]
        colour = np.mean([scene.render(u, v, p, t, px) for p in samples], axis=0)
        # lumen: the dark far end of the tube, drifting with the camera at 30% parallax
        lx = scene.lumen_xy[0] - 0.3 * (pose.x - poses[0].x)
        ly = scene.lumen_xy[1] - 0.3 * (pose.y - poses[0].y)
        lumen = 1.0 - 0.85 * np.exp(-((u - lx) ** 2 + (v - ly) ** 2) / (2 * 0.16**2))
        colour = colour * (vignette * lumen)[..., None]
        # specular highlights sit on the surface but glint differently at every pose
        wx, wy = to_world(u, v, pose)
        spec = np.zeros((h, w))
        for sx, sy in scene.speculars:
            jx, jy = rng.normal(0, 0.01, 2)
            sigma = max(px, 0.012) * (2.5 if hard else 1.0) * rng.uniform(0.7, 1.3)
            spec += np.exp(-((wx - sx - jx) ** 2 + (wy - sy - jy) ** 2) / (2 * sigma**2))
        colour = colour + np.clip(spec, 0, 1.2)[..., None]
        if hard and rng.random() < 0.15:  # glare: the light source saturates the frame
            colour = colour * rng.uniform(1.4, 1.9) + 0.1
        colour = colour * field[..., None] + rng.normal(0, 0.015, colour.shape)
        frames.append(quantise(colour))
        inside = scene.lesion_mask(*scene._deform(wx, wy, t)) > 0
        masks.append(inside & (field > 0.5))
    return frames, masks
