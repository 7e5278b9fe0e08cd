"""Benchmark helper: the full StillMotion training loss in plain numpy, timed on request.

Used by tools/bench/ts-loss-vs-numpy.mjs. A straightforward vectorised numpy version of
METHOD.md step 6 (the same formulas as stillmotion_trainer.losses, docs/losses.md), kept
independent of torch so the comparison is TypeScript vs numpy, not vs torch.

    /usr/bin/python3 ts_loss_vs_numpy_helper.py --dir DIR --b 8 --t 1 --c 3 --h 256 --w 256 --k 1

reads DIR/<name>.f32 (raw little-endian float32, written by the Node side) and then serves
commands on stdin, one per line, answering one JSON line each:
    "time N" -> {"ms_per_call": [...N values...], "loss": {...}}   (time.perf_counter per call)
    "quit"   -> exits
Data stay float32 (the trainer's dtype; numpy keeps float32 through every operation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Dict

import numpy as np

RADIUS, SIGMA, C1, C2, DICE_EPS = 5, 1.5, 0.01**2, 0.03**2, 1e-6
TAPS = np.exp(-(np.arange(-RADIUS, RADIUS + 1) ** 2) / (2 * SIGMA**2)).astype(np.float32)


def inverse_mass(length: int) -> np.ndarray:
    """1 / (sum of the taps inside a line of `length` pixels), per position."""
    mass = [TAPS[max(0, RADIUS - j) : RADIUS + length - j].sum() for j in range(length)]
    return (1.0 / np.array(mass)).astype(np.float32)


def blur_last(x: np.ndarray, inv_mass: np.ndarray) -> np.ndarray:
    """Normalised Gaussian along the last axis by shifted slice accumulation."""
    n = x.shape[-1]
    out = TAPS[RADIUS] * x
    for k in range(1, RADIUS + 1):
        if k >= n:
            break
        out[..., : n - k] += TAPS[RADIUS + k] * x[..., k:]
        out[..., k:] += TAPS[RADIUS - k] * x[..., : n - k]
    out *= inv_mass
    return out


def ssim_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, C, H, W) x2 -> (N,) mean SSIM, clamped to [0, 1] (d_ssim)."""
    n, c, h, w = a.shape
    stats = np.stack([a, b, a * a, b * b, a * b])  # (5, N, C, H, W)
    stats = blur_last(stats, inverse_mass(w))
    stats = np.swapaxes(blur_last(np.swapaxes(stats, -1, -2), inverse_mass(h)), -1, -2)
    mx, my, exx, eyy, exy = stats
    num = (2 * mx * my + C1) * (2 * (exy - mx * my) + C2)
    den = (mx * mx + my * my + C1) * ((exx - mx * mx) + (eyy - my * my) + C2)
    return np.clip((num / den).reshape(n, -1).mean(axis=1, dtype=np.float64), 0.0, 1.0)


def phi(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    if name == "l1":
        return np.abs(a2 - b2).mean(axis=1, dtype=np.float64)
    if name == "l2":
        return np.square(a2 - b2).mean(axis=1, dtype=np.float64)
    inter = np.einsum("ij,ij->i", a2, b2, dtype=np.float64)
    total = a2.sum(axis=1, dtype=np.float64) + b2.sum(axis=1, dtype=np.float64)
    return 1.0 - (2.0 * inter + DICE_EPS) / (total + DICE_EPS)


def theta(p: np.ndarray, d: np.ndarray, g1: float, g2: float) -> np.ndarray:
    return np.where(d >= g1, p, np.maximum(0.0, g2 - p))


def training_loss(x: Dict[str, np.ndarray], cfg: Dict[str, float]) -> Dict[str, float]:
    """Default config of LossConfig: φ dice (masks), l1 (images), d ssim, γ1 0.8, γ2 0.5."""
    b, t, c, h, w = x["frames_in"].shape
    k = x["key_images"].shape[1]
    n = b * t

    def flat(a: np.ndarray) -> np.ndarray:
        return a.reshape(n, *a.shape[2:])

    l_image = phi("l1", flat(x["frames_next"]), flat(x["pred_images"]))
    l_first = theta(
        phi("dice", flat(x["mask_in"]), flat(x["pred_masks"])),
        ssim_mean(flat(x["frames_in"]), flat(x["frames_next"])),
        cfg["gamma1"],
        cfg["gamma2"],
    )
    l_first = np.where(x["mask_in_inferred"].reshape(n), l_first, 0.0)
    # key frames per video, repeated over its transitions: (B*T*K, ...)
    key_masks = np.repeat(x["key_masks"][:, None], t, axis=1).reshape(n * k, 1, h, w)
    key_images = np.repeat(x["key_images"][:, None], t, axis=1).reshape(n * k, c, h, w)
    rep_masks = np.repeat(flat(x["pred_masks"]), k, axis=0)
    rep_images = np.repeat(flat(x["frames_next"]), k, axis=0)
    terms = theta(
        phi("dice", key_masks, rep_masks),
        ssim_mean(key_images, rep_images),
        cfg["gamma1"],
        cfg["gamma2"],
    ).reshape(n, k)
    valid = np.repeat(x["key_valid"][:, None], t, axis=1).reshape(n, k).astype(np.float64)
    l_second = (terms * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1.0)
    out = {
        "image": float(l_image.sum() / n),
        "mask_first": float(l_first.sum() / n),
        "mask_second": float(l_second.sum() / n),
    }
    out["total"] = out["image"] + out["mask_first"] + out["mask_second"]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    for dim in ("b", "t", "c", "h", "w", "k"):
        p.add_argument(f"--{dim}", type=int, required=True)
    a = p.parse_args()
    image, mask = (a.b, a.t, a.c, a.h, a.w), (a.b, a.t, 1, a.h, a.w)
    shapes = {
        "frames_in": image,
        "frames_next": image,
        "pred_images": image,
        "mask_in": mask,
        "pred_masks": mask,
        "key_images": (a.b, a.k, a.c, a.h, a.w),
        "key_masks": (a.b, a.k, 1, a.h, a.w),
    }
    x = {n: np.fromfile(f"{a.dir}/{n}.f32", dtype="<f4").reshape(s) for n, s in shapes.items()}
    x["mask_in_inferred"] = np.ones((a.b, a.t), dtype=bool)
    x["key_valid"] = np.ones((a.b, a.k), dtype=bool)
    cfg = {"gamma1": 0.8, "gamma2": 0.5}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        times, loss = [], {}
        for _ in range(int(cmd[1])):
            start = time.perf_counter()
            loss = training_loss(x, cfg)
            times.append((time.perf_counter() - start) * 1000.0)
        print(json.dumps({"ms_per_call": times, "loss": loss}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
