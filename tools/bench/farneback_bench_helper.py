"""Benchmark helper: OpenCV Farneback mask propagation, timed on frames the Node side sends.

Used by tools/bench/propagate-vs-farneback.mjs. Run with python-trainer/ on PYTHONPATH:

  serve --threads 2
      prints {"ready": true, ...}, then answers commands read from stdin, one JSON line each:
      "time FILE T H W" -> {"fps": ..., "frames": T, "seconds": ...}
          FILE holds T frames of H x W x 3 uint8 (RGB, row-major), as decoded; frame 0's key mask
          is a centred square. Timed: the project's Farneback baseline
          (evaluation/baselines.flow_masks: float frames in, grey conversion, Farneback with its
          documented settings, chained maps, the key mask sampled at every frame), one chain from
          frame 0 to the last. Not timed: reading the file, uint8 -> float (the Node side times
          its own conversion; decoding is excluded on both sides).
      "quit"            -> exits
Keeping one process alive lets the Node side interleave its rounds with OpenCV's, so both see
the same machine load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["serve"])
    parser.add_argument("--threads", type=int, default=2, help="cv2.setNumThreads")
    args = parser.parse_args()
    import cv2

    from stillmotion_trainer.evaluation.baselines import FarnebackParams, flow_masks

    cv2.setNumThreads(args.threads)
    params = FarnebackParams()
    print(
        json.dumps(
            {
                "ready": True,
                "opencv": cv2.__version__,
                "threads": cv2.getNumThreads(),
                "farneback": params.as_dict(),
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        path, t, h, w = cmd[1], int(cmd[2]), int(cmd[3]), int(cmd[4])
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size != t * h * w * 3:
            print(json.dumps({"error": f"{path}: {raw.size} bytes, expected {t}x{h}x{w}x3"}))
            continue
        frames = raw.reshape(t, h, w, 3).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        key = np.zeros((1, h, w), dtype=np.float32)
        key[:, h // 3 : 2 * h // 3, w // 3 : 2 * w // 3] = 1.0
        start = time.perf_counter()
        fused = flow_masks(frames, {0: key}, "linear", params)
        seconds = time.perf_counter() - start
        if len(fused.masks) != t:
            print(json.dumps({"error": f"{len(fused.masks)} masks for {t} frames"}))
            continue
        print(json.dumps({"fps": t / seconds, "frames": t, "seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
