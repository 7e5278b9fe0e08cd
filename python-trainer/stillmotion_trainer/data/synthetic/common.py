"""Shared pieces of the synthetic generators: procedural noise, camera/probe paths, sampling.

Everything is plain numpy driven by one np.random.Generator, so a seed fixes every pixel.
Lengths are in "view units": 1.0 = the shorter side of the output frame, so a scene looks the
same at 32x32 and at 256x256 (only finer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORLD_HALF = 3.0  # the world spans [-3, 3] view units around the resting view centre


def bilinear(grid: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Sample grid (h, w) at fractional grid coordinates, clamping at the border."""
    h, w = grid.shape
    gx = np.clip(gx, 0.0, w - 1.000001)
    gy = np.clip(gy, 0.0, h - 1.000001)
    x0, y0 = np.floor(gx).astype(np.intp), np.floor(gy).astype(np.intp)
    fx, fy = gx - x0, gy - y0
    top = grid[y0, x0] * (1 - fx) + grid[y0, x0 + 1] * fx
    bottom = grid[y0 + 1, x0] * (1 - fx) + grid[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


class Lattice:
    """Value noise: random values on a square lattice of `cell` view units over the world."""

    def __init__(self, rng: np.random.Generator, cell: float) -> None:
        self.cell = cell
        n = int(np.ceil(2 * WORLD_HALF / cell)) + 2
        self.values = rng.random((n, n))

    def __call__(self, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
        return bilinear(self.values, (wx + WORLD_HALF) / self.cell, (wy + WORLD_HALF) / self.cell)


class Fractal:
    """Sum of value-noise octaves (cell halves, amplitude halves), normalised to about [0, 1]."""

    def __init__(self, rng: np.random.Generator, cell: float, octaves: int = 4) -> None:
        self.octaves = [Lattice(rng, cell / 2**o) for o in range(octaves)]

    def __call__(self, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
        total = np.zeros(np.broadcast(wx, wy).shape)
        weight = 0.0
        for o, lattice in enumerate(self.octaves):
            total += lattice(wx, wy) / 2**o
            weight += 1 / 2**o
        return total / weight


@dataclass(frozen=True)
class Pose:
    """Camera or probe pose: world point at the view centre, zoom, rotation (radians)."""

    x: float
    y: float
    zoom: float
    angle: float

    @staticmethod
    def lerp(a: "Pose", b: "Pose", t: float) -> "Pose":
        return Pose(
            a.x + (b.x - a.x) * t,
            a.y + (b.y - a.y) * t,
            a.zoom + (b.zoom - a.zoom) * t,
            a.angle + (b.angle - a.angle) * t,
        )


def view_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in view units, origin at the frame centre: (u, v) each (H, W)."""
    s = float(min(height, width))
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return (u + 0.5 - width / 2) / s, (v + 0.5 - height / 2) / s


def to_world(u: np.ndarray, v: np.ndarray, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
    """View coordinates -> world coordinates for a camera at `pose`."""
    c, s = np.cos(pose.angle), np.sin(pose.angle)
    return pose.x + (c * u - s * v) / pose.zoom, pose.y + (s * u + c * v) / pose.zoom


def random_walk_path(
    rng: np.random.Generator,
    n: int,
    step: float,
    zoom_range: tuple[float, float],
    zoom_step: float,
    angle_step: float,
    momentum: float = 0.8,
    jump_prob: float = 0.0,
    jump_size: float = 0.0,
    excursion: float = 0.0,
) -> list[Pose]:
    """Smooth random camera motion; optional sudden jumps and one out-and-back excursion.

    The excursion moves the view `excursion` view units away along a random direction and back
    (a half sine over the video), which carries a lesion at the origin out of view and back.
    """
    x = y = angle = 0.0
    zoom = 1.0
    vx = vy = vz = va = 0.0
    direction = rng.uniform(0, 2 * np.pi)
    poses = []
    for t in range(n):
        if t > 0:
            vx = momentum * vx + (1 - momentum) * rng.normal(0, step) * 3
            vy = momentum * vy + (1 - momentum) * rng.normal(0, step) * 3
            vz = momentum * vz + (1 - momentum) * rng.normal(0, zoom_step) * 3
            va = momentum * va + (1 - momentum) * rng.normal(0, angle_step) * 3
            x, y = x + vx, y + vy
            if jump_prob and rng.random() < jump_prob:
                a = rng.uniform(0, 2 * np.pi)
                x, y = x + jump_size * np.cos(a), y + jump_size * np.sin(a)
            zoom = float(np.clip(zoom + vz, *zoom_range))
            angle += va
            # keep the walk near the lesion so easy videos never lose it for long
            x, y = float(np.clip(x, -0.35, 0.35)), float(np.clip(y, -0.35, 0.35))
        off = excursion * np.sin(np.pi * t / max(n - 1, 1))
        poses.append(Pose(x + off * np.cos(direction), y + off * np.sin(direction), zoom, angle))
    return poses


def blob_radius(theta: np.ndarray, radius: float, harmonics: np.ndarray) -> np.ndarray:
    """Lesion outline r(theta) = R (1 + sum_k a_k cos(k theta + p_k)), harmonics rows (a, p)."""
    r = np.ones_like(theta)
    for k, (a, p) in enumerate(harmonics, start=2):
        r = r + a * np.cos(k * theta + p)
    return radius * r


def quantise(image: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8 with rounding."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
