"""The scene's step without its divergence, when a camera views the roll-out (issue 17).

A backward step I_{t+1}(p) = I_t(p + v(p)) changes the area of what it carries by the factor
1 / det(1 + grad v) ~ 1 - div v, so over a lesion the mask grows or shrinks with the step's
divergence. The camera profile supplies the global zoom (models/camera_motion.py), and the
scene's global similarity is already the camera's (models/scene_nonrigid.py). What is left of
the scene's divergence is local: a model trained on another world's video swells or shrinks the
structures of a real still (the synthetic-only quickstart models: lesions at 0.22 to 2.7 times
their area after 16 frames, docs/generation.md, "The scene without its divergence"). So under a
camera the scene keeps the divergence-free part of its step: it still moves, shears and turns
the tissue, the camera zooms.

On the pixel grid with walls, forward differences G and the divergence D = -G^T:

    (G phi)_x(i, j) = phi(i, j + 1) - phi(i, j)   for j < W - 1, else 0   (rows likewise, y)
    (D u)(i, j) = u_x(i, j)[j < W - 1] - u_x(i, j - 1)[j > 0]
                + u_y(i, j)[i < H - 1] - u_y(i - 1, j)[i > 0]
    L = D G                     the Neumann Laplacian; the DCT-II diagonalises it, eigenvalues
                                -4 sin^2(pi k / 2H) - 4 sin^2(pi l / 2W), (k, l) = (0, 0) the mean
    phi = L^+ D u               (phi's mean 0),   w = u - G phi,   so D w = 0
    v(p) = clamp(p + w(p), 0, (W - 1, H - 1)) - p                   sources kept in the frame

w is the divergence-free field nearest to u (the orthogonal projection onto the null space of
D): the discrete Helmholtz projection with no flow through the frame's walls. Flow through a
wall is divergence in D, so a uniform shift goes too, as under the similarity fit before it.
The TypeScript mirror is packages/inference/src/scene-incompressible.ts (shared vectors in both
suites).
"""

from __future__ import annotations

import math

import torch

from stillmotion_trainer.models.warp import sources_in_frame


def dct_basis(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix (n, n), float64: C[k, i] = s_k cos(pi k (2i + 1) / 2n),
    s_0 = sqrt(1 / n), s_k = sqrt(2 / n)."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    basis = torch.cos(math.pi * k * (2 * i + 1) / (2 * n)) * math.sqrt(2.0 / n)
    basis[0] = math.sqrt(1.0 / n)
    return basis


def divergence(u: torch.Tensor) -> torch.Tensor:
    """D u of the module docstring: u (B, 2, H, W) -> (B, H, W), in u's dtype."""
    ux, uy = u[:, 0], u[:, 1]
    d = torch.zeros_like(ux)
    d[:, :, :-1] += ux[:, :, :-1]
    d[:, :, 1:] -= ux[:, :, :-1]
    d[:, :-1, :] += uy[:, :-1, :]
    d[:, 1:, :] -= uy[:, :-1, :]
    return d


def divergence_free_part(u: torch.Tensor) -> torch.Tensor:
    """w of the module docstring, float64: the step u (B, 2, H, W) in pixels less its gradient
    part G phi."""
    h, w = u.shape[-2], u.shape[-1]
    step = u.to(torch.float64, copy=True)  # changed in place below
    rows, cols = dct_basis(h), dct_basis(w)
    eig_rows = -4 * torch.sin(math.pi * torch.arange(h, dtype=torch.float64) / (2 * h)) ** 2
    eig_cols = -4 * torch.sin(math.pi * torch.arange(w, dtype=torch.float64) / (2 * w)) ** 2
    eig = eig_rows.view(-1, 1) + eig_cols.view(1, -1)
    eig[0, 0] = 1.0  # the mean: L^+ sets it to 0 below
    coeffs = rows @ divergence(step) @ cols.T / eig
    coeffs[:, 0, 0] = 0.0
    phi = rows.T @ coeffs @ cols
    step[:, 0, :, :-1] -= phi[:, :, 1:] - phi[:, :, :-1]
    step[:, 1, :-1, :] -= phi[:, 1:, :] - phi[:, :-1, :]
    return step


def divergence_free(u: torch.Tensor) -> torch.Tensor:
    """v of the module docstring: `divergence_free_part` of the step u (B, 2, H, W) with its
    sources in the frame, in u's dtype."""
    return sources_in_frame(divergence_free_part(u)).to(u.dtype)
