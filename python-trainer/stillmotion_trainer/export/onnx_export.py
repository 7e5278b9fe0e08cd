"""Export a generator to ONNX, the file @stillmotion/inference loads (see docs/inference.md).

Contract of the file (checked by the Node loader, keep both sides in step):
- inputs ``image`` float32 [batch, C, height, width] and ``mask`` float32 [batch, 1, height, width];
  a generator with ``next_frame_input`` (G(I_t, M_t, I_{t+1}), models/next_frame.py) has a third
  input ``next_frame`` float32 [batch, C, height, width], the real frame I_{t+1} (``input_names``;
  not "next_image": ONNX value names are unique and that is the predicted-image output);
- outputs ``next_image`` [batch, C, height, width] and ``next_mask`` [batch, 1, height, width];
  a generator with ``mask_refine`` has a third output ``next_mask_motion`` [batch, 1, height,
  width], the mask carried by the measured motion alone, before the appearance correction
  (``output_names``; still -> video uses it, models/next_frame.generation_step);
- a generator with the warp image head (``image_head: warp``, models/image_warp.py) has two more
  outputs (not in a mask-only export): ``next_field`` [batch, 2, height, width], the field u' in
  pixels that moved the image (next_image = clamp(sample(image, p + u') + r)), and
  ``next_residual`` [batch, C, height, width], the residual r; still -> video composes the
  fields and samples the still once per frame (models/still_to_video.py,
  packages/inference/src/still-to-video-compose.ts);
- a **mask-only** export (``mask_only=True``, ``export --mask-only``) leaves ``next_image`` out
  and says so in ``stillmotion.mask_only`` = "true": propagation reads masks only, and
  onnxruntime runs every node of a graph whatever output is fetched, so dropping the image
  branch from the graph is what saves its time;
- batch, height and width dynamic, values in 0..1;
- ``metadata_props``: the keys of ``METADATA_KEYS`` (JSON-encoded where not a plain string).

The export checks itself in ways that need no onnxruntime in Python (it is not installed on
the training machines):
1. a torch re-run of the traced graph (the graph the ONNX file is converted from), traced at one
   size and run at another batch and an odd height/width, must equal eager PyTorch: this proves
   the pad/crop shape arithmetic was traced rather than frozen to the sample size;
2. ``onnx.checker`` on the full model;
3. ONNX shape inference, whose input/output names, ranks and channel counts must match the
   contract with batch/height/width left symbolic.
Numerical parity of the ONNX file itself (onnxruntime == PyTorch within 1e-4) is proved on the
Node side, where onnxruntime lives: packages/inference/src/parity.test.ts runs PyTorch through
``infer-reference`` and compares.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

import stillmotion_trainer
from stillmotion_trainer.fs_atomic import atomic_path
from stillmotion_trainer.models.generator import GeneratorConfig

if TYPE_CHECKING:
    from stillmotion_trainer.models.next_frame import NextFrameGenerator

INPUT_NAMES = ("image", "mask")
OUTPUT_NAMES = ("next_image", "next_mask")
FORMAT = "stillmotion.generator.onnx.v1"
METADATA_KEYS = (
    "stillmotion.format",
    "stillmotion.version",
    "stillmotion.preset",
    "stillmotion.channels",
    "stillmotion.value_range",
    "stillmotion.generator_config",
    "stillmotion.config_hash",
    "stillmotion.pad_multiple",
    "stillmotion.producer",
)
NEXT_FRAME_INPUT = "next_frame"
MOTION_MASK_OUTPUT = "next_mask_motion"
FIELD_OUTPUTS = ("next_field", "next_residual")  # the warp image head's (u', r)
MASK_ONLY_KEY = "stillmotion.mask_only"  # "true" in a mask-only export, absent otherwise
MIN_OPSET = 13
WARP_OPSET = 16  # GridSample (the warp mask head) entered the ONNX standard in opset 16


def input_names(gen_cfg: GeneratorConfig) -> tuple[str, ...]:
    """The ONNX inputs of a generator: image, mask [, next_frame]."""
    return INPUT_NAMES + ((NEXT_FRAME_INPUT,) if gen_cfg.next_frame_input else ())


def output_names(gen_cfg: GeneratorConfig, mask_only: bool = False) -> tuple[str, ...]:
    """The ONNX outputs of a generator: next_image (not when mask_only), next_mask
    [, next_mask_motion] [, next_field, next_residual (warp image head, not when mask_only)]."""
    names = OUTPUT_NAMES + ((MOTION_MASK_OUTPUT,) if gen_cfg.mask_refine else ())
    if mask_only:
        return names[1:]
    return names + (FIELD_OUTPUTS if gen_cfg.image_head == "warp" else ())


def output_channels(name: str, channels: int) -> int:
    """The channel count of an ONNX output: C for the image and the residual, 2 for the field,
    1 for masks."""
    return {"next_image": channels, "next_residual": channels, "next_field": 2}.get(name, 1)


class WithMotionMask(nn.Module):
    """The graph exported for a mask_refine generator: forward_with_motion's three outputs, then,
    with `field` (a warp image head), the (u', r) of that same run."""

    def __init__(self, model: nn.Module, field: bool = False) -> None:
        super().__init__()
        self.model = cast("NextFrameGenerator", model)
        self.field = field

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, next_frame: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        if not self.field:
            return self.model.forward_with_motion(image, mask, next_frame)
        from stillmotion_trainer.models.image_warp import ImageWarpBranch

        branch = cast(ImageWarpBranch, self.model.image_model)
        with branch.recording() as motions:
            outputs = self.model.forward_with_motion(image, mask, next_frame)
        ((field, residual),) = motions  # the image branch runs once per forward
        return outputs + (field, residual)


class MasksOnly(nn.Module):
    """The graph of a mask-only export: the generator's outputs without next_image (the first),
    so the image branch is not part of the graph at all."""

    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.graph(*inputs)[1:])


def required_opset(gen_cfg: GeneratorConfig) -> int:
    """The lowest opset the generator's ops need."""
    return WARP_OPSET if gen_cfg.mask_head == "warp" else MIN_OPSET


def resolve_opset(gen_cfg: GeneratorConfig, opset: int | None) -> int:
    """The opset to export with: `opset`, or the lowest the generator needs (`required_opset`)
    when None; ValueError when `opset` is below that."""
    needed = required_opset(gen_cfg)
    opset = needed if opset is None else opset
    if opset < needed:
        why = " (the warp mask head uses GridSample)" if needed == WARP_OPSET else ""
        raise ValueError(f"opset: expected >= {needed}{why}, got {opset}")
    return opset


@contextlib.contextmanager
def eval_on_cpu(model: nn.Module) -> Iterator[None]:
    """`model` in eval mode on the CPU while tracing (no dropout or batch-norm updates leak into
    the graph); back on its device and in its mode afterwards, whatever happened."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    model.cpu()
    try:
        yield
    finally:
        model.to(device)
        model.train(was_training)


class ExportError(RuntimeError):
    """The export produced no valid file; the message names the file and the failed check."""


def config_hash(gen_cfg: GeneratorConfig) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces) of the generator config."""
    canonical = json.dumps(dataclasses.asdict(gen_cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_metadata(
    gen_cfg: GeneratorConfig, extra: dict[str, Any], mask_only: bool = False
) -> dict[str, str]:
    """The metadata_props written into the file: our keys, then `extra` (strings or JSON).

    mask_only adds MASK_ONLY_KEY = "true" (the loader accepts a file without next_image only
    then); that key is reserved like ours, whether written or not.
    """
    meta = {
        "stillmotion.format": FORMAT,
        "stillmotion.version": stillmotion_trainer.__version__,
        "stillmotion.preset": str(extra.get("preset", "custom")),
        "stillmotion.channels": str(gen_cfg.channels),
        "stillmotion.value_range": "0..1",
        "stillmotion.generator_config": json.dumps(dataclasses.asdict(gen_cfg), sort_keys=True),
        "stillmotion.config_hash": config_hash(gen_cfg),
        "stillmotion.pad_multiple": str(gen_cfg.multiple),
        "stillmotion.producer": f"stillmotion_trainer {stillmotion_trainer.__version__}, "
        f"torch {torch.__version__}",
    }
    if mask_only:
        meta[MASK_ONLY_KEY] = "true"
    for key, value in extra.items():
        if key == "preset":
            continue
        name = key if key.startswith("stillmotion.") else f"stillmotion.{key}"
        if name in meta or name == MASK_ONLY_KEY:
            raise ValueError(f"metadata: key {key!r} is reserved (written by the exporter)")
        meta[name] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return meta


def export_generator(
    model: nn.Module,
    gen_cfg: GeneratorConfig,
    out_path: str,
    metadata: dict[str, Any] | None = None,
    opset: int | None = None,
    sample_size: tuple[int, int] = (64, 64),
    mask_only: bool = False,
) -> dict[str, Any]:
    """Write `model` to `out_path` as ONNX (atomically), check it, return a report dict.

    mask_only: leave the next_image output (and the image branch) out of the graph.

    metadata: extra entries; "preset" names the preset, others land as "stillmotion.<key>".
    sample_size: H, W of the tracing sample (any multiple of 2**depth; the axes stay dynamic).
    opset: None = the lowest the generator needs (`required_opset`); lower values are refused.
    """
    import onnx

    gen_cfg.validate()
    opset = resolve_opset(gen_cfg, opset)
    names = input_names(gen_cfg)
    outputs = output_names(gen_cfg, mask_only)
    field = gen_cfg.image_head == "warp" and not mask_only
    graph: nn.Module = WithMotionMask(model, field) if gen_cfg.mask_refine else model
    if mask_only:
        graph = MasksOnly(graph)
    meta = build_metadata(gen_cfg, dict(metadata or {}), mask_only)
    out_path = os.path.abspath(out_path)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)

    # 1. Trace a sample on CPU in eval mode.
    h, w = sample_size
    sample_image = torch.rand(1, gen_cfg.channels, h, w)
    sample_mask = torch.rand(1, 1, h, w)
    samples = (sample_image, sample_mask) + (
        (torch.rand(1, gen_cfg.channels, h, w),) if gen_cfg.next_frame_input else ()
    )
    started = time.perf_counter()
    # atomic_path publishes the file only once every check below has passed.
    with eval_on_cpu(model), atomic_path(out_path) as tmp:
        tmp_path = str(tmp)
        checks = [check_trace_rerun(graph, samples, gen_cfg, outputs, where=out_path)]
        trace_to_onnx(graph, samples, tmp_path, names, outputs, opset)
        # 2. Metadata, then the self-checks, on the temporary file.
        proto = onnx.load(tmp_path)
        stamp_metadata(proto, meta, gen_cfg.channels)
        proto.producer_version = stillmotion_trainer.__version__
        checks += check_onnx_model(
            proto, gen_cfg.channels, where=out_path, inputs=names, outputs=outputs
        )
        onnx.save(proto, tmp_path)

    return {
        "onnx": out_path,
        "bytes": os.path.getsize(out_path),
        "opset": opset,
        "inputs": list(names),
        "outputs": list(outputs),
        "parameters": sum(p.numel() for p in model.parameters()),
        "metadata": meta,
        "checks": checks,
        "seconds": round(time.perf_counter() - started, 3),
    }


def trace_to_onnx(
    graph: nn.Module,
    samples: tuple[torch.Tensor, ...],
    path: str,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    opset: int,
) -> None:
    """torch.onnx.export of `graph` traced on `samples`, batch, height and width dynamic.

    A tensor named ``..._s<stride>`` (the split export's per-level features and level motion)
    gets its own height/width symbols, ``height_s<stride>``, ``width_s<stride>``: its size is
    the frame's divided by the stride, not the frame's.
    """
    dynamic: dict[str, dict[int, str]] = {}
    for name in inputs + outputs:
        suffix = name.rsplit("_s", 1)[1] if "_s" in name else ""
        tag = f"_s{suffix}" if suffix.isdigit() else ""
        dynamic[name] = {0: "batch", 2: f"height{tag}", 3: f"width{tag}"}
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 warns about prim::Constant shape inference on the pad arithmetic: harmless
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            graph,
            samples,
            path,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
        )


def stamp_metadata(proto: Any, meta: dict[str, str], channels: int) -> None:
    """Replace the graph's metadata_props by `meta`, declare its outputs' shapes
    (`declare_output_shapes`) and name the producer."""
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    declare_output_shapes(proto, channels)
    proto.producer_name = "stillmotion_trainer"


def declare_output_shapes(proto: Any, channels: int) -> None:
    """Declare outputs as [batch, C, height, width].

    torch's exporter cannot see through the dynamic crop (a Slice) and leaves the channel axis of
    the outputs as an unnamed symbol; the channel count is fixed by construction, so we state it.
    Shape inference afterwards (strict mode) rejects the file if the declaration were wrong.
    """
    for output in proto.graph.output:
        c = output_channels(output.name, channels)
        dims = output.type.tensor_type.shape.dim
        for i, name in ((0, "batch"), (2, "height"), (3, "width")):
            dims[i].dim_param = name
        dims[1].dim_value = c


def check_trace_rerun(
    model: nn.Module,
    samples: tuple[torch.Tensor, ...],
    gen_cfg: GeneratorConfig,
    names: tuple[str, ...],
    where: str,
    tolerance: float = 1e-5,
) -> str:
    """Trace at the sample size, re-run the trace at batch 2 and an odd size, compare to eager.

    samples: (image, mask) or (image, mask, next_frame), as the generator's forward takes them;
    names: the graph's output names (output_names).
    """
    h, w = samples[0].shape[-2:]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, samples, check_trace=False)
        image = torch.rand(2, gen_cfg.channels, h + 3, w - 5)
        inputs = (image, torch.rand(2, 1, h + 3, w - 5)) + tuple(
            torch.rand(2, gen_cfg.channels, h + 3, w - 5) for _ in samples[2:]
        )
        eager = model(*inputs)
        rerun = traced(*inputs)
    compare_outputs(
        names, rerun, eager, where, ("traced graph", "eager"), tuple(image.shape), tolerance
    )
    return "torch_trace_rerun"


def compare_outputs(
    names: tuple[str, ...],
    got: tuple[torch.Tensor, ...],
    reference: tuple[torch.Tensor, ...],
    where: str,
    sides: tuple[str, str],
    input_shape: tuple[int, ...],
    tolerance: float,
) -> None:
    """ExportError naming `where` on the first output of `got` whose shape differs from
    `reference`'s (a size frozen in the trace), or whose values differ by more than `tolerance`:
    max |got - reference|. sides: what produced `got` and `reference`, for the message."""
    for name, a, b in zip(names, reference, got):
        if a.shape != b.shape:
            raise ExportError(
                f"{where}: {sides[0]} gives {name} shape {tuple(b.shape)} at input "
                f"{input_shape}, {sides[1]} gives {tuple(a.shape)} (sizes frozen in the trace?)"
            )
        err = float((a - b).abs().max())
        if err > tolerance:
            raise ExportError(f"{where}: {sides[0]} differs from {sides[1]} on {name} by {err:.3g}")


def check_onnx_model(
    proto: Any,
    channels: int,
    where: str,
    inputs: tuple[str, ...] = INPUT_NAMES,
    outputs: tuple[str, ...] = OUTPUT_NAMES,
) -> list[str]:
    """onnx.checker + shape inference of a single-graph export against the contract above
    (`check_io_contract`); ExportError naming `where` on the first problem.

    Returns the names of the checks passed, for the export report.
    """
    expected_in = {name: 1 if name == "mask" else channels for name in inputs}
    expected_out = {name: output_channels(name, channels) for name in outputs}
    return check_io_contract(proto, expected_in, expected_out, where)


def check_io_contract(
    proto: Any,
    inputs: dict[str, int],
    outputs: dict[str, int],
    where: str,
    graph: str = "exported",
    ordered: bool = False,
) -> list[str]:
    """onnx.checker, strict shape inference, then the graph's inputs and outputs: exactly the
    names of `inputs` / `outputs` (in that order when `ordered`), each [batch, channels, height,
    width] with the dict's channel count and batch, height and width symbolic (dynamic).

    ExportError naming `where` and the `graph` on the first problem; returns the names of the
    checks passed, for the export report.
    """
    import onnx
    from onnx import shape_inference

    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"{where}: onnx.checker rejected the {graph} graph: {err}") from err
    inferred = shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)

    def dims(value_info: Any) -> list[str | int]:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    def listed(names: Any) -> list[str]:
        return list(names) if ordered else sorted(names)

    for kind, expected, values in (
        ("input", inputs, inferred.graph.input),
        ("output", outputs, inferred.graph.output),
    ):
        got = {v.name: dims(v) for v in values}
        if listed(got) != listed(expected):
            raise ExportError(
                f"{where}: {graph} graph {kind}s are {listed(got)}, expected {listed(expected)}"
            )
        for name, c in expected.items():
            shape = got[name]
            if (
                len(shape) != 4
                or shape[1] != c
                or not all(isinstance(shape[i], str) for i in (0, 2, 3))
            ):
                raise ExportError(
                    f"{where}: {graph} graph {kind} {name!r} has shape {shape}, expected "
                    f"[batch, {c}, height, width] with dynamic batch/height/width"
                )
    return ["onnx.checker", "shape_inference", "io_contract"]
