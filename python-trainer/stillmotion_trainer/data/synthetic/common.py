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
    exit_fraction: float = 0.25,
    drift: float = 0.0,
    spin: float = 0.0,
    tremor: float = 0.0,
) -> list[Pose]:
    """Random camera motion around the lesion; every option adds one kind of realistic motion.

    step / zoom_step / angle_step: smoothed random velocities (momentum `momentum`);
    jump_prob, jump_size: sudden jumps of the view (view units);
    excursion, exit_fraction: once per video the view swings `excursion` view units away and
        back over a window of `exit_fraction` of the frames (a sin^2 bump at a random time), which
        carries the lesion out of view for a short part of the video and brings it back;
    drift, spin: a steady pan (view units per frame, bouncing inside the walk's box) and a steady
        rotation (radians per frame) - the "sweep" style;
    tremor: independent per-frame jitter of the position (hand tremor) - the "shake" style.
    """
    x = y = angle = 0.0
    zoom = 1.0
    vx = vy = vz = va = 0.0
    direction = rng.uniform(0, 2 * np.pi)
    pan = rng.uniform(0, 2 * np.pi)
    dx, dy = drift * np.cos(pan), drift * np.sin(pan)
    spin_sign = rng.choice([-1.0, 1.0])
    window = max(2, int(round(exit_fraction * n)))
    exit_start = int(rng.integers(max(1, n // 4), max(2, n - window))) if n > 3 else 0
    poses = []
    for t in range(n):
        if t > 0:
            vx = momentum * vx + (1 - momentum) * rng.normal(0, step) * 3
            vy = momentum * vy + (1 - momentum) * rng.normal(0, step) * 3
            vz = momentum * vz + (1 - momentum) * rng.normal(0, zoom_step) * 3
            va = momentum * va + (1 - momentum) * rng.normal(0, angle_step) * 3
            x, y = x + vx + dx, y + vy + dy
            if jump_prob and rng.random() < jump_prob:
                a = rng.uniform(0, 2 * np.pi)
                x, y = x + jump_size * np.cos(a), y + jump_size * np.sin(a)
            zoom = float(np.clip(zoom + vz, *zoom_range))
            angle += va + spin_sign * spin
            # keep the walk near the lesion (a steady pan bounces back at the box's edge)
            if abs(x) > 0.35:
                dx = -dx
            if abs(y) > 0.35:
                dy = -dy
            x, y = float(np.clip(x, -0.35, 0.35)), float(np.clip(y, -0.35, 0.35))
        jx, jy = (float(v) for v in rng.normal(0, tremor, 2)) if tremor else (0.0, 0.0)
        phase = (t - exit_start) / window
        off = excursion * np.sin(np.pi * phase) ** 2 if 0 <= phase <= 1 else 0.0
        poses.append(
            Pose(x + jx + off * np.cos(direction), y + jy + off * np.sin(direction), zoom, angle)
        )
    return poses


# Motion styles of the synthetic benchmark (docs/recipes.md). "easy" is a slow 30 fps-like
# drift; "hard" has large jumps, zoom, rotation, a short exit of the lesion from the view (plus
# tissue deformation, glare and blur, drawn by the renderers); "sweep" (a steady pan with
# rotation) and "shake" (hand tremor: large independent jumps every frame) are styles to hold
# out of training to test generalisation to motion the model never saw.
MOTION_STYLES: dict[str, dict[str, float]] = {
    "easy": dict(step=0.012, zoom_lo=0.92, zoom_hi=1.1, zoom_step=0.006, angle_step=0.01),
    "hard": dict(
        step=0.035,
        zoom_lo=0.8,
        zoom_hi=1.35,
        zoom_step=0.025,
        angle_step=0.04,
        jump_prob=0.12,
        jump_size=0.12,
        excursion=1.1,
        exit_fraction=0.25,
    ),
    "sweep": dict(
        step=0.01,
        zoom_lo=0.85,
        zoom_hi=1.25,
        zoom_step=0.02,
        angle_step=0.01,
        drift=0.04,
        spin=0.05,
    ),
    "shake": dict(
        step=0.015, zoom_lo=0.85, zoom_hi=1.2, zoom_step=0.03, angle_step=0.02, tremor=0.05
    ),
}


def motion_path(
    rng: np.random.Generator, n: int, motion: str, scale: float = 1.0, zoom: bool = True
) -> list[Pose]:
    """Camera/probe poses of motion style `motion` (MOTION_STYLES); `scale` shrinks the steps
    (ultrasound probes move less), zoom=False keeps the zoom at 1 (a probe does not zoom)."""
    if motion not in MOTION_STYLES:
        allowed = ", ".join(MOTION_STYLES)
        raise ValueError(f'Unsupported motion: "{motion}". Should be one of: {allowed}')
    p = dict(MOTION_STYLES[motion])
    zoom_range = (p.pop("zoom_lo"), p.pop("zoom_hi"))
    zoom_step = p.pop("zoom_step")
    if not zoom:
        zoom_range, zoom_step = (1.0, 1.0), 0.0
    for k in ("step", "angle_step", "jump_size", "drift", "tremor"):
        if k in p:
            p[k] *= scale
    step, angle_step = p.pop("step"), p.pop("angle_step")
    return random_walk_path(rng, n, step, zoom_range, zoom_step, angle_step, **p)


def blob_radius(theta: np.ndarray, radius: float, harmonics: np.ndarray) -> np.ndarray:
    """Lesion outline r(theta) = R (1 + sum_k a_k cos(k theta + p_k)), harmonics rows (a, p)."""
    r = np.ones_like(theta)
    for k, (a, p) in enumerate(harmonics, start=2):
        r = r + a * np.cos(k * theta + p)
    return radius * r


def quantise(image: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8 with rounding."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
