"""The still's fixed border: what belongs to the scope's screen, not to the scene (issue 17).

Endoscopy stills sit inside a black surround (CVC-ColonDB's octagon covers 24-36 % of the
frame, Kvasir-SEG's corners 7-20 %), with text overlays on it. A real scope's surround moves
with the scope: the tissue moves behind a fixed frame. A camera (models/camera_motion.py) that
moved the whole still moved the surround too, and its sharp, pixel-aligned edge was most of a
CVC-ColonDB still's Laplacian variance (sharpness 0.17-0.40 of the still's at frame 16) and its
share of black most of the colour drift. So with a camera the roll-out keeps the border fixed
and moves only the view:

    dark(p)  = max_c I(c, p) < threshold              threshold default 0.05 (0-1 scale)
    B0       = the dark pixels 4-connected to the frame's edge
    V0       = the largest 4-connected component of not B0 (ties: the first in raster order);
               every other pixel is the border (overlays on the surround stay with it)
    B        = not V0 grown by r = max(1, floor(min(H, W) / 64 + 1/2)) pixels (a (2r+1)^2 square:
               the surround's soft edge is part of it), V = not B
    fill(I)(p) = I(p) on V; on B, I(2b - p) when that pixel lies in V, else I(b), where b is
               the pixel of V's edge (a view pixel with a 4-neighbour in B) nearest p, ties the
               first in raster order

The scene the model and the camera move is fill(I): the view reflected into the border, so a
camera that shifts the view brings tissue, not black, into the window. Frame t is then the still
on B and the viewed scene on V (`through_border`); the mask is zeroed on B (a lesion behind the
surround is not seen). r: a CVC-ColonDB still resized to 128 px has a 1-2 px soft edge between
view and black; with r = 1 its half-dark pixels were reflected into the fill and showed as dark
lines once the camera moved them into the view, with r = 2 they do not. A still without a dark
edge-connected surround (most ultrasound here) has an empty border and is rolled out as before.
packages/inference/src/fixed-border.ts mirrors this module exactly (shared vectors in both test
suites).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

DEFAULT_THRESHOLD = 0.05


def _components(inside: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a boolean (H, W) array, labelled 1.. in raster order of their
    first pixel; 0 outside. Returns (labels, count)."""
    h, w = inside.shape
    labels = np.zeros((h, w), dtype=np.int32)
    flat, lab = inside.ravel(), labels.ravel()
    count = 0
    for start in np.flatnonzero(flat):
        if lab[start]:
            continue
        count += 1
        lab[start] = count
        queue = deque([int(start)])
        while queue:
            i = queue.popleft()
            y, x = divmod(i, w)
            for j, ok in ((i - w, y > 0), (i + w, y < h - 1), (i - 1, x > 0), (i + 1, x < w - 1)):
                if ok and flat[j] and not lab[j]:
                    lab[j] = count
                    queue.append(j)
    return labels, count


def find_border(still: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """B of the module docstring for a still (C, H, W) in [0, 1]: a boolean (H, W) array, all
    False when there is no dark surround (or threshold <= 0)."""
    h, w = still.shape[-2:]
    if threshold <= 0:
        return np.zeros((h, w), dtype=bool)
    labels, _ = _components(still.max(axis=0) < threshold)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    surround = np.isin(labels, edge[edge > 0])
    if not surround.any():
        return surround
    views, count = _components(~surround)
    if count == 0:
        return np.ones((h, w), dtype=bool)
    sizes = np.bincount(views.ravel(), minlength=count + 1)[1:]
    border = views != 1 + int(np.argmax(sizes))  # argmax: the first of equal sizes
    r = max(1, (min(h, w) + 32) // 64)  # halves round up, as in the TypeScript mirror
    padded = np.pad(border, r)
    grown = np.zeros_like(border)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            grown |= padded[dy : dy + h, dx : dx + w]
    return grown


def fill_border(still: np.ndarray, border: np.ndarray) -> np.ndarray:
    """fill(I) of the module docstring: still (C, H, W) with its border pixels replaced by the
    view reflected about the nearest view edge pixel. Unchanged without a border or a view."""
    view = ~border
    if not border.any() or not view.any():
        return still.copy()
    h, w = border.shape
    padded = np.pad(border, 1)
    touches = padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]
    ey, ex = np.nonzero(view & touches)  # raster order
    out = still.copy()
    by, bx = np.nonzero(border)
    for s in range(0, len(by), 1024):  # (chunk, edge) squared distances: tens of MB at most
        y, x = by[s : s + 1024], bx[s : s + 1024]
        nearest = ((y[:, None] - ey[None]) ** 2 + (x[:, None] - ex[None]) ** 2).argmin(axis=1)
        ny, nx = ey[nearest], ex[nearest]
        my, mx = 2 * ny - y, 2 * nx - x
        inside = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
        inside[inside] = view[my[inside], mx[inside]]
        out[:, y, x] = still[:, np.where(inside, my, ny), np.where(inside, mx, nx)]
    return out


def through_border(
    image: torch.Tensor, mask: torch.Tensor, still: torch.Tensor, border: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame and mask seen through the fixed border: the still on B, `image` on V; the mask
    zeroed on B. image, still (B, C, H, W); mask (B, 1, H, W); border bool (H, W)."""
    return torch.where(border, still, image), mask.masked_fill(border, 0.0)
