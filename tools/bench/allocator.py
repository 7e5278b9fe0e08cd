"""Benchmark: the evaluation path on tcmalloc vs glibc's malloc (issue L).

    adapt_step_s_{128,256}                 seconds per key-frame adaptation step (evaluation/
                                           key_adaptation.py, batch 8), the shipped model
                                           models/real-propagation.pt, on tcmalloc
    propagate_fps_{128,256}_torch          frames per second of propagate_masks (--reference
                                           key, keys every 10 frames) with the same model
    adapt_{128,256}_tcmalloc_vs_glibc_speedup
    propagate_{128,256}_tcmalloc_vs_glibc_speedup
                                           the same work on glibc / on tcmalloc

Why: glibc serves large blocks with mmap and unmaps them on free, so every step faults in fresh
pages; on a VM that costs more than the arithmetic at 256 px (stillmotion_trainer/allocator.py,
which makes `python -m stillmotion_trainer` preload tcmalloc). Each measurement is a fresh child
process (`--child SIZE`) with one thread, glibc and tcmalloc alternating round by round so both
see the same machine load; each ratio is the median over rounds of the pair's ratio.

Data: the vendored real clip data/real/vocalfolds-seq8-128 (first 31 frames, gt masks of
frames 0, 10, 20, 30 as keys), resized to the size as evaluation resizes it. The last stdout line
is the JSON result; progress goes to stderr. /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TRAINER = ROOT / "python-trainer"
MODEL = ROOT / "models/real-propagation.pt"
CLIP = ROOT / "data/real/vocalfolds-seq8-128"
FRAMES, KEY_EVERY = 31, 10


def child(size: int, adapt_steps: int) -> dict[str, float]:
    """One measurement in this process: adaptation s/step and propagation frames/s."""
    sys.path.insert(0, str(TRAINER))
    import torch

    from stillmotion_trainer.data.manifest import load_manifest
    from stillmotion_trainer.evaluation.evaluate import load_video
    from stillmotion_trainer.evaluation.key_adaptation import AdaptOptions, adapt_to_keys
    from stillmotion_trainer.evaluation.propagation import propagate_masks
    from stillmotion_trainer.export.checkpoint_export import load_generator_from_checkpoint

    torch.set_num_threads(1)
    generator = load_generator_from_checkpoint(str(MODEL))[0].eval()
    manifest = load_manifest(CLIP)
    data = load_video(manifest, manifest.videos[0], (size, size))
    frames = data.frames[:FRAMES]
    keys = {t: data.gt[t] for t in range(0, FRAMES, KEY_EVERY)}
    key_frames = torch.stack([frames[t] for t in keys])
    key_masks = torch.stack(list(keys.values()))
    adapt_to_keys(generator, key_frames, key_masks, AdaptOptions(steps=1))  # warm-up
    started = time.perf_counter()
    adapted = adapt_to_keys(generator, key_frames, key_masks, AdaptOptions(steps=adapt_steps))
    adapt_s = (time.perf_counter() - started) / adapt_steps
    with torch.no_grad():
        propagate_masks(adapted, frames[: KEY_EVERY + 1], {0: keys[0]}, "linear", 8, "key")
        started = time.perf_counter()
        propagate_masks(adapted, frames, keys, "linear", 8, "key")
        propagate_s = time.perf_counter() - started
    return {"adapt_s_per_step": adapt_s, "propagate_fps": FRAMES / propagate_s}


def measure(size: int, adapt_steps: int, tcmalloc: bool) -> dict[str, Any]:
    sys.path.insert(0, str(TRAINER))
    from stillmotion_trainer import allocator

    if allocator.find_tcmalloc() is None:
        raise SystemExit("allocator bench: tcmalloc is not installed (npm run setup)")
    env = allocator.child_environment(os.environ, tcmalloc)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(size), "--adapt-steps", str(adapt_steps)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="glibc/tcmalloc pairs per size")
    p.add_argument("--adapt-steps", type=int, default=6, help="timed adaptation steps")
    p.add_argument("--sizes", default="128,256")
    p.add_argument("--quick", action="store_true", help="1 round, 256 px, 3 steps")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.adapt_steps)))
        return 0
    if args.quick:
        args.rounds, args.sizes, args.adapt_steps = 1, "256", 3
    metrics: list[dict[str, Any]] = []
    for size in [int(s) for s in args.sizes.split(",")]:
        runs: dict[str, list[dict[str, float]]] = {"glibc": [], "tcmalloc": []}
        for r in range(args.rounds):
            for name in ("glibc", "tcmalloc"):
                runs[name].append(measure(size, args.adapt_steps, name == "tcmalloc"))
            print(f"{size} px round {r}: " + ", ".join(
                f"{n} adapt {v[-1]['adapt_s_per_step']:.3f} s/step, propagate "
                f"{v[-1]['propagate_fps']:.1f} fps" for n, v in runs.items()),
                file=sys.stderr, flush=True)  # fmt: skip
        glibc, tc = runs["glibc"], runs["tcmalloc"]
        details = {
            "model": str(MODEL.relative_to(ROOT)),
            "data": f"{CLIP.relative_to(ROOT)}, {FRAMES} frames, keys every {KEY_EVERY}",
            "rounds": args.rounds,
            "threads": 1,
            "glibc_adapt_s_per_step": statistics.median(g["adapt_s_per_step"] for g in glibc),
            "glibc_propagate_fps": statistics.median(g["propagate_fps"] for g in glibc),
        }
        metrics += [
            {"metric": f"adapt_step_s_{size}", "value": statistics.median(
                t["adapt_s_per_step"] for t in tc), "unit": "s", "details": details},
            {"metric": f"propagate_fps_{size}_torch", "value": statistics.median(
                t["propagate_fps"] for t in tc), "unit": "frames/s"},
            {"metric": f"adapt_{size}_tcmalloc_vs_glibc_speedup", "value": statistics.median(
                g["adapt_s_per_step"] / t["adapt_s_per_step"] for g, t in zip(glibc, tc)),
             "unit": "ratio"},
            {"metric": f"propagate_{size}_tcmalloc_vs_glibc_speedup", "value": statistics.median(
                t["propagate_fps"] / g["propagate_fps"] for g, t in zip(glibc, tc)),
             "unit": "ratio"},
        ]  # fmt: skip
    print(json.dumps({"metrics": metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
