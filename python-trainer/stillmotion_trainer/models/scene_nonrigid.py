"""The scene's step without its global similarity, when a camera views the roll-out (issue 17).

A camera pose is a similarity: shift, rotation and zoom about the frame's centre
(models/camera_motion.camera_field). A camera profile supplies that motion as measured on real
clips. The image branch's field also contains a global part, and for a model trained with the
L2 image loss that part is its mean guess of the camera's motion in its own training world.
Seen through a camera, a roll-out would count global motion twice, and the model's guess need
not fit a still from another domain. Example: the synthetic-only quickstart model (seed 1) zooms
in on real lesions, so 13-15 of 50 clips end with the lesion at 1.3-2.1 times its area
(docs/generation.md, "The camera owns the similarity"). So the camera owns the similarity, and
the scene keeps the rest of its field. With centred pixel coordinates x = p_x - (W - 1) / 2,
y = p_y - (H - 1) / 2 over the full grid (so sum x = sum y = sum xy = 0), the least-squares
similarity of a step u has a closed form:

    t_x = mean(u_x),  t_y = mean(u_y)
    a = sum(x u_x + y u_y) / sum(x^2 + y^2),   b = sum(x u_y - y u_x) / sum(x^2 + y^2)
    S(p) = (t_x + a x - b y,  t_y + b x + a y)
    v(p) = clamp(p + u(p) - S(p), 0, (W - 1, H - 1)) - p       sources kept in the frame

The TypeScript mirror is packages/inference/src/scene-nonrigid.ts (shared vectors in both
suites).
"""

from __future__ import annotations

import torch

from stillmotion_trainer.models.warp import pixel_grid, sources_in_frame


def similarity_fit(u: torch.Tensor) -> torch.Tensor:
    """(t_x, t_y, a, b) of the module docstring per image: u (B, 2, H, W) -> (B, 4), float64."""
    h, w = u.shape[-2], u.shape[-1]
    xs, ys = pixel_grid(u)
    x = (xs - (w - 1) / 2.0).double()  # (1, 1, 1, W)
    y = (ys - (h - 1) / 2.0).double()  # (1, 1, H, 1)
    ux, uy = u[:, 0:1].double(), u[:, 1:2].double()
    norm = max(float(h * (x**2).sum() + w * (y**2).sum()), 1.0)  # 0 only on a 1x1 frame
    a = (x * ux + y * uy).sum(dim=(1, 2, 3)) / norm
    b = (x * uy - y * ux).sum(dim=(1, 2, 3)) / norm
    return torch.stack([ux.mean(dim=(1, 2, 3)), uy.mean(dim=(1, 2, 3)), a, b], dim=1)


def without_similarity(u: torch.Tensor) -> torch.Tensor:
    """v of the module docstring: the step u (B, 2, H, W) in pixels less its similarity, sources
    in the frame."""
    h, w = u.shape[-2], u.shape[-1]
    t_x, t_y, a, b = (c.view(-1, 1, 1, 1) for c in similarity_fit(u).unbind(dim=1))
    xs, ys = pixel_grid(u)
    x, y = (xs - (w - 1) / 2.0).double(), (ys - (h - 1) / 2.0).double()
    v = torch.cat([u[:, 0:1] - (t_x + a * x - b * y), u[:, 1:2] - (t_y + b * x + a * y)], dim=1)
    return sources_in_frame(v).to(u.dtype)
