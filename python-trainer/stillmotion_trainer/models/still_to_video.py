"""Still -> video (Fig. 5) for the warp image head with composed fields: the roll-out that
`stillmotion generate` ships (packages/inference/src/still-to-video-compose.ts mirrors it).

models/next_frame.generation_step feeds frame t back and resamples it at every step; bicubic
resampling is still a low-pass filter, and over 16 steps it left 0.40 of the still's Laplacian
variance on the 50 real stills (docs/generation.md). Here the image branch still *predicts* from
the current frame, but the frame itself is the still sampled once, at the composed map:

    (u_t, r_t) = motion of the image branch at (I_t, M_t)   (models/image_warp.ImageWarpBranch)
    v_t(p)     = clamp(p + k u_t(p), frame) - p             k the motion strength (default 1)
    Phi_0 = 0,  Phi_{t+1}(p) = v_t(p) + Phi_t(p + v_t(p))   the composed field, pixels
    R_0 = 0,    R_{t+1}(p)   = R_t(p + v_t(p)) + rho r_t(p) the residuals carried along, rho
                                                            the residual scale (default 1)
    I_{t+1} = clamp(sample(I_0, p + Phi_{t+1}) + R_{t+1}, 0, 1)
    M_{t+1} = clamp(warp(M_0, Phi_{t+1}), 0, 1)

`sample` is models/detail_sampling.sample_detailed (the still's smooth base bicubic, its fine
detail moved by whole pixels, so resampling does not blur speckle; `detail` sigma, 0 = plain
bicubic: image_warp.sample_image; edges repeated), `warp` models/warp.warp (bilinear, zeros
outside). p + v_t lies inside the frame and so does p + Phi_t for every p
(induction: a bilinear interpolation of in-frame points q + Phi_t(q)), so no sample reads
outside. Frame and mask are the still and its mask moved by the same map: they cannot disagree.

The motion strength k scales each predicted step (an extrapolation of the model's motion, not
something it was trained on); `stride` in generate keeps every n-th frame instead. Both are the
"motion strength" options of `stillmotion generate`. The residual scale rho scales the learned
residual (occlusions, lighting): summed over 16 steps it is what moves a real still's colour
statistics (docs/generation.md, "Where the drift comes from"); rho = 0 moves the still only.
A camera (models/camera_motion.py) views every frame of the roll-out (`view`); with a camera, a
still's dark surround stays fixed and only its view moves (models/fixed_border.py, `border`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from stillmotion_trainer.models.work_scale import check_factor
from stillmotion_trainer.models.camera_motion import CameraProfile
from stillmotion_trainer.models.detail_sampling import (
    DEFAULT_DETAIL,
    sample_detailed,
    split_detail,
)
from stillmotion_trainer.models.fixed_border import DEFAULT_THRESHOLD
from stillmotion_trainer.models.image_warp import ImageWarpBranch, sample_image
from stillmotion_trainer.models.motion_scale import motion_at_scale
from stillmotion_trainer.models.scene_incompressible import divergence_free
from stillmotion_trainer.models.scene_nonrigid import without_similarity
from stillmotion_trainer.models.next_frame import NextFrameGenerator
from stillmotion_trainer.models.warp import sources_in_frame, warp


class StillToVideoError(ValueError):
    """A model or option the composed roll-out cannot use; the message says what was given."""


@dataclass(frozen=True)
class ComposedRollout:
    """How a composed roll-out runs: the motion strength k (> 0), the residual scale rho (>= 0),
    an optional camera (its profile and the strength of its motion, >= 0), with a camera the
    darkness threshold of the still's fixed border (models/fixed_border.py; 0 = none), and the
    sigma (>= 0, pixels) of detail-preserving sampling (models/detail_sampling.py; 0 = bicubic),
    and the factor f (an integer >= 1) by which the branch's network sees the frame smaller per
    side (models/motion_scale.py: the scale it was trained at; 1 = the frame's own size), and
    what the scene keeps of each step (`SCENE_MOTIONS`; None: "incompressible" with a camera,
    "whole" without one)."""

    strength: float = 1.0
    residual: float = 1.0
    camera: Optional[CameraProfile] = None
    camera_strength: float = 1.0
    border: float = DEFAULT_THRESHOLD
    detail: float = DEFAULT_DETAIL
    motion_downsample: int = 1
    scene_motion: Optional[str] = None

    def validate(self) -> "ComposedRollout":
        for name, low, strict in (
            ("strength", 0.0, True), ("residual", 0.0, False), ("camera_strength", 0.0, False),
            ("border", 0.0, False), ("detail", 0.0, False),
        ):  # fmt: skip
            v = getattr(self, name)
            if not (v > low if strict else v >= low):
                raise StillToVideoError(
                    f"{name}: expected a number {'>' if strict else '>='} {low:g}, got {v}"
                )
        try:
            check_factor(self.motion_downsample, "motion_downsample")
        except ValueError as err:
            raise StillToVideoError(str(err)) from err
        if not self.border < 1:
            raise StillToVideoError(f"border: expected a number < 1, got {self.border}")
        if self.scene_motion is not None:
            check_scene(self.scene_motion, "scene_motion")
        if self.camera is None and self.scene() != "whole":
            raise StillToVideoError(
                f"scene_motion {self.scene_motion}: only with a camera (it owns the motion the "
                "scene gives up; without one the scene's step is kept whole)"
            )
        if self.camera is None and self.border != DEFAULT_THRESHOLD:
            raise StillToVideoError(
                f"border {self.border}: only with a camera (it keeps a still's surround fixed "
                "while the camera moves the view)"
            )
        return self

    def scene(self) -> str:
        """What the scene keeps of each step: `scene_motion`, or its default for the camera."""
        if self.scene_motion is not None:
            return self.scene_motion
        return "whole" if self.camera is None else "incompressible"


# What the scene keeps of each step of the image branch, under a camera that owns the rest:
# - "whole": the step as predicted (the only choice without a camera);
# - "nonrigid": less its global similarity, shift, rotation and zoom (models/scene_nonrigid.py);
# - "incompressible": then less its divergence too, so it moves and shears the still's
#   structures without swelling or shrinking them (models/scene_incompressible.py); the default
#   with a camera.
SCENE_MOTIONS = ("whole", "nonrigid", "incompressible")


def check_scene(scene: str, name: str) -> None:
    """StillToVideoError naming option `name` unless `scene` is one of `SCENE_MOTIONS`."""
    if scene not in SCENE_MOTIONS:
        raise StillToVideoError(
            f"{name}: expected one of {', '.join(SCENE_MOTIONS)}, got {scene!r}"
        )


def scene_step(u: torch.Tensor, scene: str) -> torch.Tensor:
    """What the scene keeps of the step u (B, 2, H, W): `SCENE_MOTIONS`."""
    if scene == "whole":
        return u
    rest = without_similarity(u)
    return rest if scene == "nonrigid" else divergence_free(rest)


@dataclass(frozen=True)
class ComposedState:
    """One frame of a composed roll-out: the still and its mask (t = 0), the composed field
    Phi_t (B, 2, H, W) in pixels, the carried residual R_t (B, C, H, W), frame I_t, mask M_t,
    the step v_{t-1} (B, 2, H, W) that led here (zeros at t = 0) and the still's fine detail
    (models/detail_sampling.split_detail; None: the still is sampled bicubic)."""

    still: torch.Tensor
    still_mask: torch.Tensor
    field: torch.Tensor
    residual: torch.Tensor
    image: torch.Tensor
    mask: torch.Tensor
    step: torch.Tensor
    detail: Optional[torch.Tensor] = None


def start(still: torch.Tensor, mask: torch.Tensor, detail: float = DEFAULT_DETAIL) -> ComposedState:
    """t = 0: the still (B, C, H, W) and its mask (B, 1, H, W), Phi_0 = 0, R_0 = 0; the still's
    fine detail split off once for detail-preserving sampling with sigma `detail` (0: bicubic)."""
    b, _, h, w = still.shape
    field = torch.zeros(b, 2, h, w, dtype=still.dtype, device=still.device)
    # split_detail refuses a negative (or NaN) sigma, as the TypeScript startComposed does
    layer = None if detail == 0 else split_detail(still, detail)
    return ComposedState(still, mask, field, torch.zeros_like(still), still, mask, field, layer)


def sample_still(state: ComposedState, field: torch.Tensor) -> torch.Tensor:
    """The still at p + field(p): detail-preserving where the state holds its detail, else
    bicubic (module docstring, `sample`)."""
    if state.detail is None:
        return sample_image(state.still, field)
    return sample_detailed(state.still, state.detail, field)


def scale_field(u: torch.Tensor, strength: float) -> torch.Tensor:
    """v = clamp(p + k u, frame) - p: the step scaled by the motion strength k, its sources kept
    inside the frame as the branch keeps u's. u (B, 2, H, W) in pixels."""
    return u if strength == 1.0 else sources_in_frame(u, strength)


def compose(state: ComposedState, u: torch.Tensor, r: torch.Tensor) -> ComposedState:
    """The next state from the branch's step (u, r) (already scaled: `scale_field`); formulas of
    the module docstring."""
    field = u + warp(state.field, u)  # (B, 2, H, W): sources inside the frame, no zeros read
    residual = sample_image(state.residual, u) + r
    image = (sample_still(state, field) + residual).clamp(0.0, 1.0)
    mask = warp(state.still_mask, field).clamp(0.0, 1.0)
    return ComposedState(
        state.still, state.still_mask, field, residual, image, mask, u, state.detail
    )


def view(state: ComposedState, camera: torch.Tensor) -> ComposedState:
    """The state seen through a camera field (B, 2, H, W) in pixels, sources inside the frame
    (models/camera_motion.camera_field): compose(state, camera, 0), i.e. the still and the
    carried residual sampled once at p + camera(p) + Phi_t(p + camera(p)) and the mask moved by
    the same map. Only for output: the scene's next step is predicted from the unviewed state."""
    return compose(state, camera, torch.zeros_like(state.residual))


def warp_branch(model: nn.Module) -> ImageWarpBranch:
    """The model's warp image branch; StillToVideoError for a model without one."""
    if isinstance(model, NextFrameGenerator) and isinstance(model.image_model, ImageWarpBranch):
        return model.image_model
    head = model.cfg.image_head if isinstance(model, NextFrameGenerator) else "direct"
    raise StillToVideoError(
        f"composed roll-out: the model's image_head is {head!r}, expected 'warp' "
        "(models/image_warp.py); roll it out with next_frame.generation_step"
    )


@torch.no_grad()
def composed_step(
    model: nn.Module,
    state: ComposedState,
    strength: float = 1.0,
    residual: float = 1.0,
    motion_downsample: int = 1,
    scene: str = "whole",
) -> ComposedState:
    """One composed Fig. 5 step: the branch's (u_t, r_t) at (I_t, M_t), its network run
    `motion_downsample` times smaller per side (models/motion_scale.py), u_t reduced to what the
    scene keeps (`scene_step`; not "whole" only when a camera views the roll-out), scaled by
    `strength` (> 0) and r_t by `residual` (>= 0), then `compose`."""
    ComposedRollout(strength, residual, motion_downsample=motion_downsample).validate()
    check_scene(scene, "scene")
    u, r = motion_at_scale(warp_branch(model), state.image, state.mask, motion_downsample)
    u = scene_step(u, scene)
    return compose(state, scale_field(u, strength), residual * r if residual != 1.0 else r)
