"""infer-reference: PyTorch reference outputs of a generator, for the Node-side parity test.

Builds a generator (from a preset and a seed, or from a checkpoint), exports it to ONNX next to a
JSON file holding random inputs and PyTorch's outputs for them: one step, a Fig. 5 roll-out
(predicted image and mask fed back) and a Fig. 6 chain (real frames, predicted mask fed back).
packages/inference/src/parity.test.ts runs the ONNX file through onnxruntime-node and compares.
"""

from __future__ import annotations

import argparse

HELP = (
    "export a generator plus PyTorch reference outputs (parity vectors for @stillmotion/inference)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder for model.onnx and reference.json")
    p.add_argument("--checkpoint", help="use this checkpoint's generator instead of a preset")
    p.add_argument("--preset", default="tiny", help="generator preset (default tiny)")
    p.add_argument("--variant", help="override the preset's variant (shared | separate)")
    p.add_argument("--decoder", help="override the preset's decoder (upsample | transposed)")
    p.add_argument(
        "--next-frame-input",
        choices=["conv", "warp", "warp-refine"],
        help="build G(I_t, M_t, I_{t+1}) with this mask head (models/next_frame.py); "
        "warp-refine = warp + mask_refine, its zero-initialised correction randomised so the "
        "reference exercises it",
    )
    p.add_argument(
        "--erasing-correction",
        action="store_true",
        help="with warp-refine: a correction that erases every mask (head bias -20), so every "
        "inference step goes through the collapse guard (GeneratorConfig.collapse_guard)",
    )
    p.add_argument("--channels", type=int, default=3, help="image channels, 1 or 3 (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and inputs (default 0)")
    p.add_argument("--height", type=int, default=20)
    p.add_argument("--width", type=int, default=28)
    p.add_argument("--steps", type=int, default=3, help="roll-out and chain length (default 3)")
    p.add_argument(
        "--also-mask-only",
        action="store_true",
        help="also write model.masks.onnx, the same model exported mask-only (no next_image)",
    )


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import sys

    import torch

    from stillmotion_trainer.export.checkpoint_export import (
        CheckpointError,
        load_generator_from_checkpoint,
    )
    from stillmotion_trainer.export.onnx_export import export_generator
    from stillmotion_trainer.fs_atomic import atomic_write_text
    from stillmotion_trainer.models.factory import build_generator
    from stillmotion_trainer.models.next_frame import generation_step
    from stillmotion_trainer.models.presets import generator_config
    from stillmotion_trainer.runtime import configure_threads

    if args.erasing_correction and (args.checkpoint or args.next_frame_input != "warp-refine"):
        print(
            "infer-reference failed: --erasing-correction needs --next-frame-input warp-refine "
            "(and no --checkpoint)",
            file=sys.stderr,
        )
        return 2
    configure_threads()
    torch.manual_seed(args.seed)
    if args.checkpoint:
        try:
            model, gen_cfg, _ = load_generator_from_checkpoint(args.checkpoint)
        except CheckpointError as err:
            print(json.dumps({"ok": False, "code": err.code, "error": str(err)}))
            print(f"infer-reference failed: {err}", file=sys.stderr)
            return 2
        preset = "checkpoint"
    else:
        overrides = {"channels": args.channels}
        overrides.update({k: getattr(args, k) for k in ("variant", "decoder") if getattr(args, k)})
        if args.next_frame_input:
            head, _, refine = args.next_frame_input.partition("-")
            overrides.update(next_frame_input=True, mask_head=head, mask_refine=bool(refine))
        gen_cfg = generator_config(args.preset, **overrides)
        model = build_generator(gen_cfg).eval()
        if gen_cfg.mask_refine:
            with torch.no_grad():
                for p in model.get_submodule("refine_net.head").parameters():
                    p.normal_(0.0, 0.3)
                if args.erasing_correction:  # s = 0: W + 2 s - 1 <= 0 everywhere
                    model.get_parameter("refine_net.head.0.bias").fill_(-20.0)
        preset = args.preset

    def tensor_json(t: torch.Tensor) -> dict:
        return {"shape": list(t.shape), "data": t.flatten().tolist()}

    c, h, w, n = gen_cfg.channels, args.height, args.width, args.steps
    image = torch.rand(1, c, h, w)
    mask = torch.rand(1, 1, h, w)
    frames = torch.rand(n + 1, c, h, w)  # a random "video" for the Fig. 6 chain
    # G(I_t, M_t, I_{t+1}) also takes the real next frame: a shifted copy of the image, so the
    # warp head has a real displacement to find
    next_frame = torch.roll(image, shifts=(1, 2), dims=(2, 3))
    nf = gen_cfg.next_frame_input
    with torch.no_grad():
        next_image, next_mask = model(image, mask, next_frame) if nf else model(image, mask)
        rollout = []  # Fig. 5: (I^_{t+1}, M^_{t+1}) = G(I^_t, M^_t), both fed back
        cur_image, cur_mask = image, mask
        for _ in range(n):
            cur_image, cur_mask = generation_step(model, cur_image, cur_mask)
            rollout.append({"image": tensor_json(cur_image), "mask": tensor_json(cur_mask)})
        # warp image head: models/still_to_video.py, the still sampled once a frame
        composed: list[dict] = []
        composed_half: list[dict] = []
        composed_nonrigid: list[dict] = []
        composed_incompressible: list[dict] = []
        if gen_cfg.image_head == "warp":
            from stillmotion_trainer.models import still_to_video as s2v

            # factor 2: the branch at half size (models/motion_scale.py); the scene's motions
            # under a camera: less the similarity, then less the divergence too
            # (still_to_video.SCENE_MOTIONS)
            for factor, scene, steps in (
                (1, "whole", composed), (2, "whole", composed_half),
                (1, "nonrigid", composed_nonrigid), (1, "incompressible", composed_incompressible),
            ):  # fmt: skip
                state = s2v.start(image, mask)
                for _ in range(n):
                    state = s2v.composed_step(model, state, motion_downsample=factor, scene=scene)
                    steps.append(
                        {"image": tensor_json(state.image), "mask": tensor_json(state.mask)}
                    )
        chain = []  # Fig. 6: M^_{t+1} = G(I_t, M^_t [, I_{t+1}])[1], real frames in
        cur_mask = mask
        for t in range(n):
            extra = (frames[t + 1 : t + 2],) if nf else ()
            _, cur_mask = model(frames[t : t + 1], cur_mask, *extra)
            chain.append(tensor_json(cur_mask))

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "model.onnx")
    report = export_generator(model, gen_cfg, onnx_path, {"preset": preset})
    if args.also_mask_only:
        masks_path = os.path.join(args.out, "model.masks.onnx")
        export_generator(model, gen_cfg, masks_path, {"preset": preset}, mask_only=True)
    reference = {
        "generator_config": report["metadata"]["stillmotion.generator_config"],
        "seed": args.seed,
        "image": tensor_json(image),
        "mask": tensor_json(mask),
        "next_frame": tensor_json(next_frame) if nf else None,
        "step": {"next_image": tensor_json(next_image), "next_mask": tensor_json(next_mask)},
        "rollout": rollout,
        "rollout_composed": composed,
        "rollout_composed_half": composed_half,
        "rollout_composed_nonrigid": composed_nonrigid,
        "rollout_composed_incompressible": composed_incompressible,
        "frames": tensor_json(frames),
        "chain": chain,
    }
    ref_path = os.path.join(args.out, "reference.json")
    atomic_write_text(ref_path, json.dumps(reference))
    print(json.dumps({"ok": True, "onnx": onnx_path, "reference": ref_path}))
    return 0
