"""Independent numpy versions of the losses, written from METHOD.md + docs/losses.md, not from
the torch code: SSIM uses a direct 2-D window (no separable pass), NCC uses np.corrcoef-style
sums. Shared by tests/losses and tests/metrics (imported by file location, see those tests).
"""

from __future__ import annotations

import numpy as np

DICE_EPS = 1e-6
C1 = 0.01**2
C2 = 0.03**2


def phi(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, C, H, W) x2 -> (B,)"""
    a = a.astype(np.float64).reshape(a.shape[0], -1)
    b = b.astype(np.float64).reshape(b.shape[0], -1)
    if name == "l1":
        return np.abs(a - b).mean(axis=1)
    if name == "l2":
        return ((a - b) ** 2).mean(axis=1)
    if name == "dice":
        return 1.0 - (2.0 * (a * b).sum(1) + DICE_EPS) / (a.sum(1) + b.sum(1) + DICE_EPS)
    raise KeyError(name)


def ssim_plane(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SSIM map of one (H, W) plane with an 11x11 Gaussian (σ 1.5) window cut at the borders."""
    h, w = x.shape
    t = np.arange(-5, 6, dtype=np.float64)
    g = np.exp(-(t**2) / (2 * 1.5**2))
    window = np.outer(g, g)  # (11, 11)
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            i0, i1 = max(0, i - 5), min(h, i + 6)
            j0, j1 = max(0, j - 5), min(w, j + 6)
            wk = window[i0 - i + 5 : i1 - i + 5, j0 - j + 5 : j1 - j + 5]
            wk = wk / wk.sum()
            px, py = x[i0:i1, j0:j1], y[i0:i1, j0:j1]
            mx, my = (wk * px).sum(), (wk * py).sum()
            vx = (wk * (px - mx) ** 2).sum()
            vy = (wk * (py - my) ** 2).sum()
            cxy = (wk * (px - mx) * (py - my)).sum()
            out[i, j] = ((2 * mx * my + C1) * (2 * cxy + C2)) / (
                (mx**2 + my**2 + C1) * (vx + vy + C2)
            )
    return out


def ssim_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, C, H, W) x2 -> (B,) mean SSIM, not clamped."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return np.array(
        [
            np.mean([ssim_plane(a[n, c], b[n, c]).mean() for c in range(a.shape[1])])
            for n in range(a.shape[0])
        ]
    )


def similarity(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, C, H, W) x2 -> (B,)"""
    if name == "ssim":
        return np.clip(ssim_mean(a, b), 0.0, 1.0)
    if name == "1-l1":
        return 1.0 - phi("l1", a, b)
    if name == "ncc":
        out = []
        for x, y in zip(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)):
            x = x.astype(np.float64)
            y = y.astype(np.float64)
            flat_x, flat_y = x.var() < 1e-10, y.var() < 1e-10
            if flat_x or flat_y:
                out.append(1.0 if (flat_x and flat_y) else 0.0)
            else:
                r = np.sum((x - x.mean()) * (y - y.mean())) / np.sqrt(
                    np.sum((x - x.mean()) ** 2) * np.sum((y - y.mean()) ** 2)
                )
                out.append(min(1.0, max(0.0, r)))
        return np.array(out)
    raise KeyError(name)


def theta(phi_v: np.ndarray, d_v: np.ndarray, g1: float, g2: float) -> np.ndarray:
    return np.where(d_v >= g1, phi_v, np.maximum(0.0, g2 - phi_v))


def training_loss(
    frames_in, frames_next, pred_images, mask_in, pred_masks, mask_in_inferred,
    key_images, key_masks, key_valid, cfg: dict, adv: float = 0.0,
) -> dict:  # fmt: skip
    """Loop form of METHOD.md step 6: every (video, transition, key frame) visited explicitly."""
    bsz, steps = frames_in.shape[:2]
    li = lm1 = lm2 = 0.0
    for v in range(bsz):
        for t in range(steps):
            one = slice(t, t + 1)
            li += phi(cfg["image_phi"], frames_next[v, one], pred_images[v, one])[0]
            if mask_in_inferred[v, t]:
                p = phi(cfg["phi"], mask_in[v, one], pred_masks[v, one])
                d = similarity(cfg["d"], frames_in[v, one], frames_next[v, one])
                lm1 += theta(p, d, cfg["gamma1"], cfg["gamma2"])[0]
            terms = []
            for k in range(key_images.shape[1]):
                if key_valid[v, k]:
                    p = phi(cfg["phi"], key_masks[v, k : k + 1], pred_masks[v, one])
                    d = similarity(cfg["d"], key_images[v, k : k + 1], frames_next[v, one])
                    terms.append(theta(p, d, cfg["gamma1"], cfg["gamma2"])[0])
            lm2 += float(np.mean(terms)) if terms else 0.0
    n = bsz * steps
    out = {"image": li / n, "mask_first": lm1 / n, "mask_second": lm2 / n, "adv": adv}
    out["total"] = (
        cfg["lambda_image"] * out["image"]
        + cfg["lambda_m1"] * out["mask_first"]
        + cfg["lambda_m2"] * out["mask_second"]
        + cfg["lambda_adv"] * adv
    )
    return out
