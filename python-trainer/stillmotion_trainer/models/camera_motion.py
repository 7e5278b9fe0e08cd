"""Camera motion for still -> video: a hand-held scope's view of the generated scene, with the
motion statistics of real clips (issue 17, "motion present and plausible").

The warp image head predicts the scene's own motion from one frame; trained with L2 it predicts
the mean motion, 0.27 px a frame at 128 px against 8 px between neighbouring frames of real
laryngoscopy (docs/generation.md). Most of that real motion is the camera: a similarity
transform (shift, zoom, rotation) fitted to the Farneback flow of each pair explains all but
2-4 px of it. So the roll-out keeps the model for the scene and adds a camera whose per-frame
motion is measured on real clips (evaluation/camera_profile.py writes the profile):

    pose_t = (dx, dy, s, a)      shift in pixels, log zoom, rotation (radians); pose_0 = 0
    pose_{t+1} = rest + rho (pose_t - rest) + sigma * eps_t,   eps_t ~ N(0, I)
    rest = (0, 0, log rest_zoom, 0)
    sigma = k * step_std * sqrt((1 + rho) / 2)

so that in the stationary state the per-frame change of each parameter has the real clips'
standard deviation `step_std` (times the strength k; shift std given as a fraction of the
frame's shorter side). With the profile's `max_zoom` Z, the log zoom is then capped at log Z
after each step (s_{t+1} <- min(s_{t+1}, log Z)): a still has no finer detail to show, so
magnified by 1.1 it loses a third of its sharpness (the variance of its Laplacian) and a lesion
in it covers 1.2 times its area; zooming out (showing more of the still, mirrored at its edges)
is not limited. rho < 1 pulls the view back towards the still's framing, as a clinician
keeps the lesion in view (real positions wander freely; their per-frame velocities are
uncorrelated, lag-1 correlation about 0, here -(1 - rho) / 2). The view of pose (d, s, a) reads
the scene at

    q(p) = c + d + exp(-s) R(a) (p - c),    c the frame's centre, R(a) the rotation by a
    field(p) = mirror(q(p)) - p              mirror folds each coordinate back into [0, n - 1]
                                             about the edge pixels (OpenCV's BORDER_REFLECT_101:
                                             -1 -> 1, n -> n - 2), with period 2 (n - 1)

and frame t of the clip is the composed state of the scene viewed through that field
(models/still_to_video.view): the still sampled once, so the camera adds no blur, and the mask
moved by the same map. Frame 0 (pose 0) is the still itself. Where the view leaves the still,
the still is mirrored (the mask with it, so they agree), as data/animate_stills.py does:
clamping repeated the edge pixels into streaks up to 15 px wide at 128 px.

A video endoscope also holds its image's brightness: its processor drives the light source (or
the sensor's gain) from the frame's mean brightness, so as the scope turns to a brighter wall or
comes closer to the tissue the light dims. Without that, a view drifting over a bright wall
changed a still's mean colour by up to 0.07 in 16 frames (docs/generation.md). With the
profile's `auto_exposure`, frame t's view is scaled by one gain

    g_t = sum_{p in view, c} I_0(p, c) / sum_{p in view, c} I_t(p, c)     (1 where the sum is 0)
    I_t(p) <- clamp(g_t I_t(p), 0, 1)

so that its mean brightness over the channels is the still's; `view` is the frame without its
fixed surround (models/fixed_border.py), whose pixels the light does not reach. The mask is not
changed. `auto_exposure(image, still, view)` below.

A clinician filming a lesion also keeps it in view. The walk alone does not know where the
lesion is: a polyp at the edge of CVC-ColonDB's octagon went half behind the surround (mask area
0.52 at frame 16), and a view zoomed or shifted over the mirrored edge can show a lesion twice.
With the profile's `keep_lesion` f, each proposed pose is checked against the frame it would
show, and pulled halfway back to rest until the lesion's visible area through it lies within a
factor f of what the rest pose shows:

    A(pose) = |{p in view : M_pose(p) >= 0.5}|     the scene's mask seen through pose
    accept pose when f <= A(pose) / A(rest) <= 1 / f   (always when A(rest) = 0: nothing to keep)
    else pose <- rest + (pose - rest) / 2, at most KEEP_TRIES times, then rest itself

and the walk goes on from the accepted pose (`CameraWalk`, `keep_lesion_in_view`). It steers
only the camera: what the scene's own motion does to the lesion is the model's, and the rest
pose is the reference, so a lesion the scene has shrunk is not blown up by zooming.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from stillmotion_trainer.errors import StillMotionError

# field -> (low, high, high included): the per-frame spreads, the revert and the rest zoom
BOUNDS = {
    "shift_std": (0.0, 1.0, False),
    "log_zoom_std": (0.0, 1.0, False),
    "rotation_std": (0.0, 1.0, False),
    "revert": (0.0, 1.0, False),
    "rest_zoom": (1.0, 2.0, True),
}
MAX_ZOOM_LIMIT = 4.0  # max_zoom, when given, lies in [rest_zoom, MAX_ZOOM_LIMIT]
KEEP_TRIES = 4  # halvings towards rest before keep_lesion falls back to the rest pose
REQUIRED = ("shift_std", "log_zoom_std", "rotation_std")


class CameraProfileError(StillMotionError, ValueError):
    """A camera profile that cannot be used (INVALID_ARGUMENT); the message names the file or
    field."""

    code = "INVALID_ARGUMENT"


@dataclass(frozen=True)
class CameraProfile:
    """Per-frame motion statistics of real clips and how the generated view returns to rest.

    shift_std: std of the per-frame shift (each of x and y), a fraction of the shorter side.
    log_zoom_std, rotation_std: std of the per-frame change of log zoom and of the angle (rad).
    revert: rho of the module docstring, in [0, 1).
    rest_zoom: the zoom the view returns to (>= 1: a margin of the still around the view).
    auto_exposure: the view's mean brightness held at the still's (module docstring).
    max_zoom: the most the view magnifies the still (module docstring); None = no cap.
    keep_lesion: f in (0, 1], the lesion's visible area kept within a factor f of the rest
        pose's (module docstring); None = the walk does not look at the lesion.
    source: where the numbers were measured (free-form, for the reader).
    """

    shift_std: float
    log_zoom_std: float
    rotation_std: float
    revert: float = 0.8
    rest_zoom: float = 1.0
    auto_exposure: bool = False
    max_zoom: Optional[float] = None
    keep_lesion: Optional[float] = None
    source: dict[str, Any] = field(default_factory=dict)

    def validate(self, where: str = "camera profile") -> "CameraProfile":
        for name, (low, high, closed) in BOUNDS.items():
            v = getattr(self, name)
            number = not isinstance(v, bool) and isinstance(v, (int, float))
            if not (number and low <= v and (v <= high if closed else v < high)):
                raise CameraProfileError(
                    f"{where}: {name}: expected a number in [{low:g}, {high:g}"
                    f"{']' if closed else ')'}, got {v!r}"
                )
        if not isinstance(self.auto_exposure, bool):
            raise CameraProfileError(
                f"{where}: auto_exposure: expected true or false, got {self.auto_exposure!r}"
            )
        z = self.max_zoom
        number = not isinstance(z, bool) and isinstance(z, (int, float))
        if z is not None and not (number and self.rest_zoom <= z <= MAX_ZOOM_LIMIT):
            raise CameraProfileError(
                f"{where}: max_zoom: expected null or a number in [rest_zoom "
                f"{self.rest_zoom:g}, {MAX_ZOOM_LIMIT:g}], got {z!r}"
            )
        f = self.keep_lesion
        number = not isinstance(f, bool) and isinstance(f, (int, float))
        if f is not None and not (number and 0 < f <= 1):
            raise CameraProfileError(
                f"{where}: keep_lesion: expected null or a number in (0, 1], got {f!r}"
            )
        return self


def save_profile(profile: CameraProfile, path: str | Path) -> None:
    """Write the profile as JSON (atomically: a reader never sees half a file)."""
    from stillmotion_trainer.fs_atomic import atomic_write_text

    atomic_write_text(Path(path), json.dumps(asdict(profile), indent=2) + "\n")


def load_profile(path: str | Path) -> CameraProfile:
    """Read and validate a profile; CameraProfileError naming the file on any problem."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except (OSError, ValueError) as err:
        raise CameraProfileError(f"{p}: cannot read a camera profile: {err}") from err
    if not isinstance(raw, dict):
        raise CameraProfileError(f"{p}: expected a JSON object, got {type(raw).__name__}")
    known = set(CameraProfile.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    missing = sorted(set(REQUIRED) - set(raw))
    if unknown or missing:
        raise CameraProfileError(f"{p}: unknown fields {unknown}, missing fields {missing}")
    return CameraProfile(**raw).validate(str(p))


class CameraWalk:
    """The AR(1) walk of the module docstring one step at a time, so that a roll-out can steer
    it (`keep_lesion_in_view`): `propose()` draws the next pose from the current one (its log
    zoom capped at log max_zoom), `accept(pose)` makes a pose the current one. Poses are
    (dx, dy, s, a), dx and dy in pixels of a frame whose shorter side is `side`."""

    def __init__(
        self, profile: CameraProfile, side: int, rng: np.random.Generator, strength: float = 1.0
    ) -> None:
        if not strength >= 0:
            raise CameraProfileError(f"camera strength: expected a number >= 0, got {strength}")
        self.rho = profile.revert
        step = np.array(
            [profile.shift_std * side] * 2 + [profile.log_zoom_std, profile.rotation_std]
        )  # fmt: skip
        self.sigma = strength * step * math.sqrt((1 + self.rho) / 2)
        self.rest = np.array([0.0, 0.0, math.log(profile.rest_zoom), 0.0])
        self.cap = math.inf if profile.max_zoom is None else math.log(profile.max_zoom)
        self.rng = rng
        self.pose = np.zeros(4)

    def propose(self) -> np.ndarray:
        pose = (
            self.rest
            + self.rho * (self.pose - self.rest)
            + self.sigma * self.rng.standard_normal(4)
        )
        pose[2] = min(pose[2], self.cap)
        return pose

    def accept(self, pose: np.ndarray) -> np.ndarray:
        self.pose = np.asarray(pose, dtype=np.float64)
        return self.pose


def sample_poses(
    profile: CameraProfile, frames: int, side: int, rng: np.random.Generator, strength: float = 1.0
) -> np.ndarray:
    """(frames, 4) poses (dx, dy, s, a) of the walk (`CameraWalk`) from pose_0 = 0, without
    looking at the lesion."""
    walk = CameraWalk(profile, side, rng, strength)
    poses = np.zeros((frames, 4))
    for t in range(1, frames):
        poses[t] = walk.accept(walk.propose())
    return poses


def keep_lesion_in_view(
    pose: np.ndarray, rest: np.ndarray, visible: Callable[[np.ndarray], float], keep: float
) -> np.ndarray:
    """The pose the walk takes when the lesion's visible area must stay within a factor `keep`
    of the rest pose's (module docstring): `pose` itself when keep <= A(pose) / A(rest) <=
    1 / keep or A(rest) = 0, else the first of pose pulled halfway to rest 1..KEEP_TRIES times
    that is, else rest. visible(pose) = A(pose), the lesion's area seen through a pose."""
    at_rest = visible(rest)
    if at_rest <= 0:
        return pose
    for _ in range(KEEP_TRIES + 1):
        if keep <= visible(pose) / at_rest <= 1.0 / keep:
            return pose
        pose = rest + (pose - rest) / 2.0
    return rest.copy()


def mirror(x: torch.Tensor, n: int) -> torch.Tensor:
    """x folded into [0, n - 1] about the edge pixels: with m = |x| mod 2 (n - 1), m if
    m <= n - 1 else 2 (n - 1) - m (BORDER_REFLECT_101; n = 1 gives 0)."""
    if n == 1:
        return torch.zeros_like(x)
    period = 2.0 * (n - 1)
    m = torch.remainder(x.abs(), period)
    return torch.where(m <= n - 1, m, period - m)


def camera_field(pose: np.ndarray | list[float], height: int, width: int) -> torch.Tensor:
    """(1, 2, H, W) field in pixels of the view of pose (dx, dy, s, a): mirror(q(p)) - p with
    q(p) = c + d + exp(-s) R(a) (p - c) (module docstring)."""
    dx, dy, s, a = (float(v) for v in pose)
    xs = torch.arange(width, dtype=torch.float64).view(1, -1)
    ys = torch.arange(height, dtype=torch.float64).view(-1, 1)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    k = math.exp(-s)
    cos, sin = k * math.cos(a), k * math.sin(a)
    qx = cx + dx + cos * (xs - cx) - sin * (ys - cy)
    qy = cy + dy + sin * (xs - cx) + cos * (ys - cy)
    fx = mirror(qx, width) - xs
    fy = mirror(qy, height) - ys
    return torch.stack([fx, fy]).unsqueeze(0).float()


def auto_exposure(
    image: torch.Tensor, still: torch.Tensor, view: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """The frame with its view's mean brightness set to the still's: clamp(g image, 0, 1) with
    g = sum_view still / sum_view image over the view's pixels and all channels (1 where that sum
    is 0; module docstring). image, still (B, C, H, W); view (H, W) bool, None = the whole
    frame. Pixels outside the view are scaled too (a fixed surround is pasted over them after)."""
    inside = torch.ones(image.shape[-2:], dtype=torch.bool) if view is None else view
    weight = inside.to(image.dtype)
    lit = (image * weight).sum(dim=(1, 2, 3), keepdim=True)
    target = (still * weight).sum(dim=(1, 2, 3), keepdim=True)
    gain = torch.where(lit > 0, target / lit.clamp_min(1e-12), torch.ones_like(lit))
    return (image * gain).clamp(0.0, 1.0)
