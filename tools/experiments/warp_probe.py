"""Untrained warp mask head vs copy-key on a dataset: does the displacement estimator match?

Usage: [SHARPEN=g] /usr/bin/python3 tools/experiments/warp_probe.py DATASET [SIZE] [BETA per level]
(SHARPEN: gain g of (m - 0.5) g + 0.5 after each warp, a variant tried and dropped)
Chains from the first key frame forward and backward, Dice per frame against ground truth.
"""

import os
import sys

import numpy as np
import torch

from stillmotion_trainer.data.manifest import load_manifest
from stillmotion_trainer.evaluation.evaluate import load_video
from stillmotion_trainer.metrics import dice
from stillmotion_trainer.models.warp import DisplacementEstimator, warp
from stillmotion_trainer.runtime import configure_threads


SHARPEN = float(os.environ.get("SHARPEN", "1"))


def main() -> None:
    configure_threads()
    manifest = load_manifest(sys.argv[1])
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    est = DisplacementEstimator(manifest.channels).eval()
    if len(sys.argv) > 4:
        with torch.no_grad():
            est.log_beta.copy_(torch.tensor([float(b) for b in sys.argv[3:]]).log())
    d_warp, d_copy = [], []
    for video in manifest.videos:
        v = load_video(manifest, video, (size, size))
        frames = v.frames  # (T, C, H, W)
        gt = v.gt.numpy()
        k = sorted(v.key_masks)[0]
        masks = {k: v.key_masks[k][None].float()}
        with torch.no_grad():
            for step in (1, -1):
                t = k
                while 0 <= t + step < len(frames):
                    flow = est(frames[t][None], frames[t + step][None])
                    warped = warp(masks[t], flow)
                    masks[t + step] = ((warped - 0.5) * SHARPEN + 0.5).clamp(0, 1)
                    t += step
        d_warp.append(np.mean([dice(masks[t][0].numpy(), gt[t]) for t in range(len(frames))]))
        d_copy.append(np.mean([dice(gt[k], gt[t]) for t in range(len(frames))]))
    scores = f"warp dice {np.mean(d_warp):.3f} | copy-key {np.mean(d_copy):.3f}"
    print(f"{sys.argv[1]} {sys.argv[3:]}: {scores}")


if __name__ == "__main__":
    main()
