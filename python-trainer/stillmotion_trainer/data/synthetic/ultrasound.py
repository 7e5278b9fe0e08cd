"""Ultrasound-like synthetic video: speckle, layered tissue, a hypoechoic lesion, probe motion.

Per frame (view units: 1.0 = shorter side):
1. probe pose: sliding and tilting random walk plus breathing ("hard": larger slides, jumps,
   compression, and an excursion that carries the lesion out of the image and back);
2. echogenicity sampled at world coordinates: depth-layered tissue, a bright fascia line, and
   a dark (hypoechoic) lesion with a faint rim and posterior acoustic enhancement;
3. speckle that moves with the tissue (fixed in the world) plus a small fresh part per frame;
4. depth attenuation, a fan-shaped field of view, gain changes ("hard"), 8-bit quantisation.
The mask is the lesion inside the fan.
"""

from __future__ import annotations

import numpy as np

from stillmotion_trainer.data.synthetic.common import (
    Fractal,
    Lattice,
    Pose,
    quantise,
    motion_path,
    to_world,
    view_grid,
)


class UltrasoundScene:
    def __init__(self, rng: np.random.Generator, size: tuple[int, int], hard: bool) -> None:
        self.hard = hard
        grain = 1.2 / min(size)  # speckle grain of about one pixel
        self.speckle = (Lattice(rng, grain), Lattice(rng, grain))
        self.tissue = Fractal(rng, cell=0.4, octaves=3)
        self.layer_phase = rng.uniform(0, 2 * np.pi)
        self.fascia_y = rng.uniform(-0.35, -0.2)
        self.lesion_xy = rng.uniform(-0.08, 0.08, 2) + np.array([0.0, 0.08])
        self.axes = np.array([rng.uniform(0.12, 0.18), rng.uniform(0.08, 0.12)])
        self.tilt = rng.uniform(-0.4, 0.4)

    def lesion_inside(self, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
        """Ellipse level: < 1 inside the lesion."""
        dx, dy = wx - self.lesion_xy[0], wy - self.lesion_xy[1]
        c, s = np.cos(self.tilt), np.sin(self.tilt)
        a, b = (c * dx + s * dy) / self.axes[0], (-s * dx + c * dy) / self.axes[1]
        return a * a + b * b

    def echo(self, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
        layers = 0.5 + 0.15 * np.sin(2 * np.pi * wy / 0.28 + self.layer_phase)
        e = layers + 0.3 * (self.tissue(wx, wy) - 0.5)
        e = e + 0.45 * np.exp(-(((wy - self.fascia_y) / 0.015) ** 2))
        level = self.lesion_inside(wx, wy)
        # posterior acoustic enhancement: brighter column below the (fluid-like) lesion
        below = (wy > self.lesion_xy[1]) & (np.abs(wx - self.lesion_xy[0]) < self.axes[0] * 0.8)
        e = np.where(below & (level >= 1), e * 1.3, e)
        rim = np.exp(-(((level - 1.0) / 0.12) ** 2)) * 0.25
        return np.where(level < 1, 0.1 + 0.05 * self.tissue(wx * 3, wy * 3), e + rim)


def render_video(
    rng: np.random.Generator, num_frames: int, size: tuple[int, int], motion: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(frames as (H, W) uint8, masks as (H, W) bool) for one video."""
    hard = motion != "easy"  # compression and gain jumps in every style but "easy"
    h, w = size
    scene = UltrasoundScene(rng, size, hard)
    poses = motion_path(rng, num_frames, motion, scale=0.8, zoom=False)
    u, v = view_grid(h, w)
    # convex-probe fan: virtual apex above the image, +-38 degrees, near field cut by the arc
    half_h = h / min(h, w) / 2
    ax, ay = 0.0, -half_h - 0.2
    depth = np.hypot(u - ax, v - ay)
    fan = (np.abs(np.arctan2(u - ax, v - ay)) < np.radians(38)) & (depth > 0.3)
    depth01 = np.clip((v + half_h) / (2 * half_h), 0.0, 1.0)
    attenuation = np.exp(-1.2 * depth01) * (0.65 + 0.6 * depth01)  # loss, partly undone by TGC
    frames, masks = [], []
    for t, pose in enumerate(poses):
        breathing = 0.03 * np.sin(2 * np.pi * t / 16.0)
        p = Pose(pose.x, pose.y + breathing, pose.zoom, pose.angle)
        wx, wy = to_world(u, v, p)
        if hard:  # probe pressure compresses the tissue along the beam
            wy = wy * (1.0 + 0.08 * np.sin(2 * np.pi * t / 10.0))
        real = scene.speckle[0](wx, wy) - 0.5
        imag = scene.speckle[1](wx, wy) - 0.5
        fresh = rng.normal(0, 0.12, (2, h, w))
        speckle = np.hypot(real + fresh[0], imag + fresh[1]) / 0.33
        gain = rng.uniform(0.75, 1.35) if hard and rng.random() < 0.15 else 1.0
        image = scene.echo(wx, wy) * speckle * attenuation * gain * 0.85
        frames.append(quantise(np.where(fan, image, 0.0)))
        masks.append((scene.lesion_inside(wx, wy) < 1) & fan)
    return frames, masks
