"""Benchmark helper: export a preset generator (random weights) and time PyTorch eager on it.

Used by tools/bench/ort-vs-torch.mjs and tools/bench/propagate-fps.mjs. Run with python-trainer/
on PYTHONPATH:

  export --preset realtime --out model.onnx [--seed 0] [--channels 3] [--recipe CONFIG]
         [--mask-only]
      -> one JSON line {"onnx": ..., "parameters": ...}
  serve --preset realtime --size 256 [--seed 0] [--channels 3] [--out model.onnx]
      exports the same model to --out when given, prints {"ready": true, ...}, then answers
      commands read from stdin, one JSON line each:
      "time N" -> {"ms_per_frame": ..., "frames": N}  (N single-frame forward passes,
                  torch.no_grad, eval mode, threads = available cores)
      "quit"   -> exits
--recipe configs/recipes/X.yaml takes the generator of that training config instead (its
model.preset and model.overrides): what a model trained with the recipe costs to run;
--mask-only exports the graph without next_image (what propagation deploys).
Serving keeps the model warm between rounds, so the Node side can interleave torch and
onnxruntime rounds and both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from stillmotion_trainer.export.onnx_export import export_generator
from stillmotion_trainer.models.factory import build_generator, count_parameters
from stillmotion_trainer.models.presets import generator_config
from stillmotion_trainer.runtime import configure_threads
from stillmotion_trainer.training.config import read_config_file


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["export", "serve"])
    parser.add_argument("--preset", default="realtime")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--out")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--recipe", help="a training config whose model section is timed")
    parser.add_argument("--mask-only", action="store_true", help="export without next_image")
    args = parser.parse_args()
    threads = configure_threads()
    preset, overrides = args.preset, {}
    if args.recipe:
        section = read_config_file(Path(args.recipe)).get("model", {})
        preset, overrides = section.get("preset", "realtime"), section.get("overrides", {})
    cfg = generator_config(preset, **{**overrides, "channels": args.channels})
    torch.manual_seed(args.seed)  # same preset + seed -> the same weights on every run
    model = build_generator(cfg).eval()
    onnx_path = None
    if args.out:
        meta = {"preset": preset}
        onnx_path = export_generator(model, cfg, args.out, meta, mask_only=args.mask_only)["onnx"]
    if args.mode == "export":
        print(json.dumps({"onnx": onnx_path, "parameters": count_parameters(model)}), flush=True)
        return 0

    image = torch.rand(1, args.channels, args.size, args.size)
    mask = torch.rand(1, 1, args.size, args.size)
    inputs = (image, mask, image) if cfg.next_frame_input else (image, mask)
    with torch.no_grad():
        for _ in range(3):  # warm-up: allocator, oneDNN kernels
            model(*inputs)
    ready = {
        "ready": True,
        "onnx": onnx_path,
        "threads": threads,
        "parameters": count_parameters(model),
        "torch": torch.__version__,
    }
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        n = int(cmd[1])
        with torch.no_grad():
            start = time.perf_counter()
            for _ in range(n):
                model(*inputs)
            elapsed = time.perf_counter() - start
        print(json.dumps({"ms_per_frame": 1000 * elapsed / n, "frames": n}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
