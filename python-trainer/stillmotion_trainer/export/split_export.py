"""The split ONNX export of a warp-head generator: per-frame features once, then a cheap step.

Along a propagation chain every frame takes part in two steps, first as I_{t+1} and then as I_t,
and the single graph computes its matching features (the per-level embeddings,
models/warp.py step 1) in both. The split export writes two graphs instead:

- **features** ``image`` [batch, C, height, width] -> ``features_s8``, ``features_s2``,
  ``features_s1`` (one per level of the model's matcher, named by stride s: [batch,
  C + EMBED_CHANNELS (1 at a grey level), ceil(height / s), ceil(width / s)]):
  `DisplacementEstimator.features`;
- **step** ``features_s*`` (of I_t), ``next_features_s*`` (of I_{t+1}), ``next_frame`` (I_{t+1},
  which the correction reads) and ``mask`` (M^_t) -> ``next_mask`` [, ``next_mask_motion``]:
  `NextFrameGenerator.masks_from_features`, the mask-only graph's outputs.

The step, cut once more where the mask enters, is two more graphs, so that the match (which
never reads a mask) can run ahead of the chain on another core while the mask steps follow
(packages/inference/src/motion-worker.ts):

- **motion** ``features_s*``, ``next_features_s*`` -> ``motion_s<k>`` (the displacement at the
  finest level, stride k, in that level's pixels): `DisplacementEstimator.level_motion`;
- **carry** ``motion_s<k>``, ``next_frame``, ``mask`` -> the step's outputs:
  `NextFrameGenerator.masks_from_motion` (upsampled to the frame, warp, correction).

One file is written: the step graph, whose ``metadata_props`` carry the usual keys (as a
mask-only export: ``stillmotion.mask_only`` = "true"), ``stillmotion.layout`` = "split" and the
other graphs, serialized and base64-encoded: ``stillmotion.features_graph`` (a few kilobytes:
the embeddings' weights), ``stillmotion.motion_graph`` and ``stillmotion.carry_graph`` (the
correction's weights a second time), so the model stays one file to ship. A reader that knows
only the features and step graphs ignores the other two. A file without
``stillmotion.layout`` is the single graph of onnx_export.py; the Node loader
(packages/inference/src/generator.ts) chooses by this key and refuses any other value.

Self-checks (no onnxruntime in Python, as for the single graph): the graphs traced at one size
and re-run at batch 2 and an odd size equal eager PyTorch; features + step, and features +
motion + carry, equal the single model's forward_with_motion in eager PyTorch (proves the split
computes the same masks); onnx.checker and strict shape inference on every graph, names and
channel counts as above.
Numerical parity of the two ONNX files with the single graph through onnxruntime is proved on
the Node side (packages/inference/src/propagate-split.test.ts).
"""

from __future__ import annotations

import base64
import os
import time
import warnings
from typing import Any, cast

import torch
from torch import nn

from stillmotion_trainer.export.onnx_export import (
    MASK_ONLY_KEY,
    build_metadata,
    check_io_contract,
    compare_outputs,
    declare_output_shapes,
    eval_on_cpu,
    output_names,
    resolve_opset,
    stamp_metadata,
    trace_to_onnx,
)
from stillmotion_trainer.fs_atomic import atomic_path
from stillmotion_trainer.models.generator import GeneratorConfig
from stillmotion_trainer.models.next_frame import NextFrameGenerator
from stillmotion_trainer.models.warp import MATCHERS, level_channels

LAYOUT_KEY = "stillmotion.layout"
SPLIT_LAYOUT = "split"
FEATURES_GRAPH_KEY = "stillmotion.features_graph"
MOTION_GRAPH_KEY = "stillmotion.motion_graph"
CARRY_GRAPH_KEY = "stillmotion.carry_graph"
GRAPH_KEYS = (FEATURES_GRAPH_KEY, MOTION_GRAPH_KEY, CARRY_GRAPH_KEY)
IMAGE_INPUT = "image"
NEXT_FRAME_INPUT = "next_frame"
MASK_INPUT = "mask"


def feature_names(gen_cfg: GeneratorConfig, prefix: str = "") -> tuple[str, ...]:
    """The per-level feature tensors, coarse to fine, named by stride: features_s8,
    features_s2, features_s1 for the "narrow" matcher (models/warp.py, MATCHERS)."""
    return tuple(f"{prefix}features_s{stride}" for stride, _ in MATCHERS[gen_cfg.matcher].levels)


def motion_name(gen_cfg: GeneratorConfig) -> str:
    """The motion graph's output, named by the finest level's stride: motion_s1, motion_s2."""
    return f"motion_s{MATCHERS[gen_cfg.matcher].levels[-1][0]}"


def step_input_names(gen_cfg: GeneratorConfig) -> tuple[str, ...]:
    """Inputs of the step graph: I_t's features, I_{t+1}'s features, next_frame, mask."""
    return feature_names(gen_cfg) + feature_names(gen_cfg, "next_") + (NEXT_FRAME_INPUT, MASK_INPUT)


class FeaturesGraph(nn.Module):
    """image -> the matching features of each level (DisplacementEstimator.features)."""

    def __init__(self, model: NextFrameGenerator) -> None:
        super().__init__()
        assert model.displacement is not None
        self.displacement = model.displacement

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.displacement.features(image))


class StepGraph(nn.Module):
    """(features of I_t, features of I_{t+1}, I_{t+1}, M^_t) -> next_mask [, next_mask_motion]."""

    def __init__(self, model: NextFrameGenerator) -> None:
        super().__init__()
        self.model = model
        self.levels = len(model.displacement.levels) if model.displacement else 0

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = self.levels
        features, next_features = list(inputs[:n]), list(inputs[n : 2 * n])
        next_frame, mask = inputs[2 * n], inputs[2 * n + 1]
        next_mask, motion = self.model.masks_from_features(
            features, next_features, next_frame, mask
        )
        return (next_mask, motion) if self.model.refine_net is not None else (next_mask,)


class MotionGraph(nn.Module):
    """(features of I_t, features of I_{t+1}) -> the finest level's motion (level_motion)."""

    def __init__(self, model: NextFrameGenerator) -> None:
        super().__init__()
        assert model.displacement is not None
        self.displacement = model.displacement
        self.levels = len(model.displacement.levels)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        n = self.levels
        return self.displacement.level_motion(list(inputs[:n]), list(inputs[n : 2 * n]))


class CarryGraph(nn.Module):
    """(level motion, I_{t+1}, M^_t) -> next_mask [, next_mask_motion] (masks_from_motion)."""

    def __init__(self, model: NextFrameGenerator) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, motion: torch.Tensor, next_frame: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        next_mask, carried = self.model.masks_from_motion(motion, next_frame, mask)
        return (next_mask, carried) if self.model.refine_net is not None else (next_mask,)


def check_splittable(model: nn.Module, gen_cfg: GeneratorConfig) -> NextFrameGenerator:
    """The model as a NextFrameGenerator with a warp head; ValueError naming what is missing."""
    if not gen_cfg.next_frame_input or gen_cfg.mask_head != "warp":
        raise ValueError(
            "split: only a G(I_t, M_t, I_{t+1}) with the warp mask head has per-frame features "
            f"to cache (got next_frame_input={gen_cfg.next_frame_input}, "
            f"mask_head={gen_cfg.mask_head!r}); export it without --split"
        )
    if gen_cfg.image_head == "warp":  # its next_mask_motion follows the image's field, not u
        raise ValueError(
            "split: a model with image_head 'warp' is a still -> video generator (its "
            "next_mask_motion is the mask carried by the image's field, docs/generation.md); "
            "export it without --split"
        )
    return cast(NextFrameGenerator, model)


def export_split(
    model: nn.Module,
    gen_cfg: GeneratorConfig,
    out_path: str,
    metadata: dict[str, Any] | None = None,
    opset: int | None = None,
    sample_size: tuple[int, int] = (64, 64),
) -> dict[str, Any]:
    """Write the split export of `model` to `out_path` (atomically), check it, return a report.

    metadata, opset, sample_size: as export_generator's. The report adds ``layout`` and the
    features graph's ``features_bytes``.
    """
    import onnx

    gen_cfg.validate()
    net = check_splittable(model, gen_cfg)
    opset = resolve_opset(gen_cfg, opset)
    extra = dict(metadata or {})
    for key in (LAYOUT_KEY, *GRAPH_KEYS):
        if key in extra or key.removeprefix("stillmotion.") in extra:
            raise ValueError(f"metadata: key {key!r} is reserved (written by the exporter)")
    meta = build_metadata(gen_cfg, extra, mask_only=True)
    meta[LAYOUT_KEY] = SPLIT_LAYOUT
    features_graph, step_graph = FeaturesGraph(net), StepGraph(net)
    step_outputs = output_names(gen_cfg, mask_only=True)
    out_path = os.path.abspath(out_path)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)

    started = time.perf_counter()
    with eval_on_cpu(model):
        checks = [check_split_rerun(net, gen_cfg, sample_size, where=out_path)]
        with atomic_path(out_path) as tmp:
            tmp_path = str(tmp)
            features_path = tmp_path + ".features"
            motion_path, carry_path = tmp_path + ".motion", tmp_path + ".carry"
            try:
                h, w = sample_size
                image = torch.rand(1, gen_cfg.channels, h, w)
                with torch.no_grad():
                    feats = features_graph(image)
                trace_to_onnx(
                    features_graph,
                    (image,),
                    features_path,
                    (IMAGE_INPUT,),
                    feature_names(gen_cfg),
                    opset,
                )
                step_samples = feats + feats + (image, torch.rand(1, 1, h, w))
                trace_to_onnx(
                    step_graph,
                    step_samples,
                    tmp_path,
                    step_input_names(gen_cfg),
                    step_outputs,
                    opset,
                )
                with torch.no_grad():
                    motion = MotionGraph(net)(*feats, *feats)
                features_names = feature_names(gen_cfg) + feature_names(gen_cfg, "next_")
                trace_to_onnx(
                    MotionGraph(net),
                    feats + feats,
                    motion_path,
                    features_names,
                    (motion_name(gen_cfg),),
                    opset,
                )
                trace_to_onnx(
                    CarryGraph(net),
                    (motion, image, torch.rand(1, 1, h, w)),
                    carry_path,
                    (motion_name(gen_cfg), NEXT_FRAME_INPUT, MASK_INPUT),
                    step_outputs,
                    opset,
                )
                features_proto = onnx.load(features_path)
                motion_proto = onnx.load(motion_path)
                carry_proto = onnx.load(carry_path)
            finally:
                for path in (features_path, motion_path, carry_path):
                    if os.path.exists(path):
                        os.remove(path)
            widths = level_channels(gen_cfg.channels, gen_cfg.matcher)
            for part in (features_proto, motion_proto, carry_proto):
                del part.metadata_props[:]
                part.producer_name = "stillmotion_trainer"
            _declare_feature_shapes(features_proto.graph.output, widths)
            _declare_feature_shapes(motion_proto.graph.output, (2,))
            declare_output_shapes(carry_proto, gen_cfg.channels)
            checks += check_io_contract(
                features_proto, *_features_contract(gen_cfg), out_path, "features", ordered=True
            )
            step_inputs = _step_contract(gen_cfg, step_outputs)[0]
            motion_inputs = {k: step_inputs[k] for k in features_names}
            motion_outputs = {motion_name(gen_cfg): 2}
            checks += check_io_contract(
                motion_proto, motion_inputs, motion_outputs, out_path, "motion", ordered=True
            )
            carry_inputs = {motion_name(gen_cfg): 2, NEXT_FRAME_INPUT: gen_cfg.channels}
            carry_inputs[MASK_INPUT] = 1
            carry_outputs = {name: 1 for name in step_outputs}
            checks += check_io_contract(
                carry_proto, carry_inputs, carry_outputs, out_path, "carry", ordered=True
            )
            features_bytes = features_proto.SerializeToString()
            meta[FEATURES_GRAPH_KEY] = base64.b64encode(features_bytes).decode("ascii")
            for key, part in ((MOTION_GRAPH_KEY, motion_proto), (CARRY_GRAPH_KEY, carry_proto)):
                meta[key] = base64.b64encode(part.SerializeToString()).decode("ascii")

            proto = onnx.load(tmp_path)
            stamp_metadata(proto, meta, gen_cfg.channels)
            checks += check_io_contract(
                proto, *_step_contract(gen_cfg, step_outputs), out_path, "step", ordered=True
            )
            onnx.save(proto, tmp_path)

    return {
        "onnx": out_path,
        "bytes": os.path.getsize(out_path),
        "opset": opset,
        "layout": SPLIT_LAYOUT,
        "inputs": list(step_input_names(gen_cfg)),
        "outputs": list(step_outputs),
        "features_bytes": len(features_bytes),
        "parameters": sum(p.numel() for p in model.parameters()),
        "metadata": {k: v for k, v in meta.items() if k not in GRAPH_KEYS},
        "checks": sorted(set(checks), key=checks.index),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _declare_feature_shapes(outputs: Any, widths: tuple[int, ...]) -> None:
    """[batch, channels, height_sS, width_sS] on per-level outputs (features, level motion)."""
    for output, width in zip(outputs, widths):
        stride = output.name.rsplit("_s", 1)[1]
        dims = output.type.tensor_type.shape.dim
        dims[0].dim_param = "batch"
        dims[1].dim_value = width
        dims[2].dim_param = f"height_s{stride}"
        dims[3].dim_param = f"width_s{stride}"


def _features_contract(gen_cfg: GeneratorConfig) -> tuple[dict[str, int], dict[str, int]]:
    widths = level_channels(gen_cfg.channels, gen_cfg.matcher)
    return {IMAGE_INPUT: gen_cfg.channels}, dict(zip(feature_names(gen_cfg), widths))


def _step_contract(
    gen_cfg: GeneratorConfig, outputs: tuple[str, ...]
) -> tuple[dict[str, int], dict[str, int]]:
    widths = level_channels(gen_cfg.channels, gen_cfg.matcher)
    inputs = dict(zip(feature_names(gen_cfg), widths))
    inputs.update(zip(feature_names(gen_cfg, "next_"), widths))
    inputs[NEXT_FRAME_INPUT] = gen_cfg.channels
    inputs[MASK_INPUT] = 1
    return inputs, {name: 1 for name in outputs}


def check_split_rerun(
    model: NextFrameGenerator,
    gen_cfg: GeneratorConfig,
    sample_size: tuple[int, int],
    where: str,
    tolerance: float = 1e-5,
) -> str:
    """Both graphs traced at `sample_size`, re-run at batch 2 and an odd size, must equal the
    single model's eager forward_with_motion (masks) within `tolerance`: the trace kept its
    shape arithmetic dynamic, and features + step compute what the single graph computes."""
    features_graph, step_graph = FeaturesGraph(model), StepGraph(model)
    h, w = sample_size
    c = gen_cfg.channels
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = torch.rand(1, c, h, w)
        traced_features = torch.jit.trace(features_graph, (image,), check_trace=False)
        feats = features_graph(image)
        sample = feats + feats + (image, torch.rand(1, 1, h, w))
        traced_step = torch.jit.trace(step_graph, sample, check_trace=False)
        frame, next_frame = torch.rand(2, c, h + 3, w - 5), torch.rand(2, c, h + 3, w - 5)
        mask = torch.rand(2, 1, h + 3, w - 5)
        _, next_mask, motion = model.forward_with_motion(frame, mask, next_frame)
        traced_motion = torch.jit.trace(MotionGraph(model), feats + feats, check_trace=False)
        level = MotionGraph(model)(*feats, *feats)
        traced_carry = torch.jit.trace(
            CarryGraph(model), (level, image, torch.rand(1, 1, h, w)), check_trace=False
        )
        feats, next_feats = traced_features(frame), traced_features(next_frame)
        split = traced_step(*feats, *next_feats, next_frame, mask)
        carried = traced_carry(traced_motion(*feats, *next_feats), next_frame, mask)
    expected = (next_mask, motion) if model.refine_net is not None else (next_mask,)
    for got, what in ((split, "features + step"), (carried, "features + motion + carry")):
        compare_outputs(
            output_names(gen_cfg, mask_only=True),
            got,
            expected,
            where,
            (what, "the single model"),
            tuple(frame.shape),
            tolerance,
        )
    return "torch_split_equals_single"


__all__ = [
    "CARRY_GRAPH_KEY",
    "FEATURES_GRAPH_KEY",
    "LAYOUT_KEY",
    "MASK_ONLY_KEY",
    "MOTION_GRAPH_KEY",
    "SPLIT_LAYOUT",
    "check_splittable",
    "export_split",
    "feature_names",
    "motion_name",
    "step_input_names",
]
