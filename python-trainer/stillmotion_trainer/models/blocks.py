"""Layers every generator is built from: the U-Net (encoder, decoder, lift, head) and padding.

The literal generator (generator.py), the next-frame variant's mask branches (next_frame.py) and
the warp image branch (image_warp.py) are all encoder-decoders over concatenated inputs; this
module holds them once. It reads no generator config type: a U-Net needs only the five fields of
`UNetLayout`, which `GeneratorConfig` has.

Padding: any H, W is accepted; `pad_to_multiple` pads right and bottom by edge replication to a
multiple of `2**depth * stem_stride` and the caller crops back (`[..., :h, :w]`). Both are shape
arithmetic, which keeps height and width dynamic in an ONNX trace.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, cast

import torch
import torch.nn.functional as F
from torch import nn

from stillmotion_trainer.autograd_state import keeps_graph

MAX_WIDTH_MULTIPLIER = 8  # stage widths double per stage up to base_width * 8


class UNetLayout(Protocol):
    """The structure fields of a U-Net (`GeneratorConfig` fields of the same names)."""

    @property
    def depth(self) -> int:
        ...

    @property
    def decoder(self) -> str:
        ...  # "upsample" or "transposed"

    @property
    def upsample_mode(self) -> str:
        ...  # "bilinear" or "nearest"

    @property
    def stem_stride(self) -> int:
        ...  # 1 or 2

    @property
    def head_kernel(self) -> int:
        ...  # 1 or 3


def pad_to_multiple(
    x: torch.Tensor, multiple: int, size: Optional[tuple[Any, Any]] = None
) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H', W'), H' and W' the next multiples, right/bottom edge-replicated.

    size: (H, W) when the caller already read them (traced, each read of a shape is its own
    node in the ONNX graph)."""
    h, w = size if size is not None else (x.shape[-2], x.shape[-1])
    pad_h = (multiple - h % multiple) % multiple
    pad_w = (multiple - w % multiple) % multiple
    if not torch.jit.is_tracing() and pad_h == 0 and pad_w == 0:
        # x itself: the padding copy and its backward were 2 % of a training step at 128 px
        # (issue L); a trace keeps the Pad, its amounts computed from the input's size
        return x
    return F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")


def run_padded(
    net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, multiple: int
) -> torch.Tensor:
    """net(x) with x padded to `multiple` (`pad_to_multiple`) and the output cropped back."""
    h, w = x.shape[-2], x.shape[-1]
    out: torch.Tensor = net(pad_to_multiple(x, multiple, (h, w)))
    return out[..., :h, :w]


def upsample_bilinear(x: torch.Tensor, scale: int) -> torch.Tensor:
    """F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False), the same
    values; on the CPU under autograd its backward reads the incoming gradient in x's layout.

    The gradient reaching an upsampling followed by a concatenation is a channel slice of the
    concatenation's gradient, contiguous in no layout; ATen made it plain (NCHW) before its
    backward kernel, which on a channels-last network (run_state.to_training_layout) is 2.4-5x
    slower than the channels-last kernel on an AVX2 CPU, and then converted the result back.
    Both kernels add each input pixel's contributions in the same order: the gradient is the
    same to the last bit (tests/models/test_model_blocks.py). 6 % of the recipe's step at
    128 px (issue L). A trace (the ONNX export) and inference see plain F.interpolate."""
    if torch.jit.is_tracing() or x.device.type != "cpu" or not keeps_graph(x):
        return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    out: torch.Tensor = _BilinearUpsample.apply(x, scale)
    return out


class _BilinearUpsample(torch.autograd.Function):
    """upsample_bilinear's recorded form: the forward of F.interpolate, the backward of ATen's
    upsample_bilinear2d on the gradient made contiguous in the input's layout."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: int) -> torch.Tensor:  # type: ignore[override]
        ctx.input_size, ctx.scale = list(x.shape), float(scale)
        plain = x.is_contiguous() or not x.is_contiguous(
            memory_format=torch.channels_last  # type: ignore[call-overload]
        )
        ctx.layout = torch.contiguous_format if plain else torch.channels_last
        return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        grad = grad.contiguous(memory_format=ctx.layout)  # type: ignore[call-overload]
        out_size = list(grad.shape[-2:])
        return (
            torch.ops.aten.upsample_bilinear2d_backward(
                grad, out_size, ctx.input_size, False, ctx.scale, ctx.scale
            ),
            None,
        )


class BilinearUpsample(nn.Module):
    """x `scale` bilinear interpolation, align_corners False (upsample_bilinear): what
    nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False) computes."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample_bilinear(x, self.scale)


def run_downscaled(
    net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: int, multiple: int
) -> torch.Tensor:
    """net(x) at 1/scale of x's resolution, the output brought back to x's size:

        x' = pad_to_multiple(x, scale * multiple)        (edge replication)
        y  = up_scale(net(avg_pool_scale(x')))[..., :H, :W]

    avg_pool_scale averages each scale x scale block; up_scale is bilinear interpolation by
    `scale` (align_corners False, the ONNX Resize "half_pixel" mode). net sees a quarter of
    the pixels at scale 2 (GeneratorConfig.refine_scale). scale 1 is run_padded exactly."""
    if scale == 1:
        return run_padded(net, x, multiple)
    h, w = x.shape[-2], x.shape[-1]
    small = F.avg_pool2d(pad_to_multiple(x, scale * multiple, (h, w)), scale)
    return upsample_bilinear(net(small), scale)[..., :h, :w]


def stage_widths(base_width: int, depth: int) -> list[int]:
    """Channels per resolution level 0 (full) .. depth (deepest)."""
    return [base_width * min(2**i, MAX_WIDTH_MULTIPLIER) for i in range(depth + 1)]


def conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution + ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


def upsampler(c_in: int, c_out: int, layout: UNetLayout) -> nn.Module:
    """x2 resolution: a 4x4 stride-2 transposed conv to c_out channels ("transposed"), or
    interpolation keeping c_in channels ("upsample")."""
    if layout.decoder == "transposed":
        return nn.Sequential(
            nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU(inplace=True)
        )
    if layout.upsample_mode == "bilinear":
        return BilinearUpsample(2)
    return nn.Upsample(scale_factor=2, mode=layout.upsample_mode)


class Head(nn.Sequential):
    """Output head: conv (kernel 1 or 3) + sigmoid, so outputs lie in (0, 1).

    zero_init: weights and bias start at 0, so the head outputs exactly 0.5 whatever its input.
    A residual head reads its sigmoid s as the change 2 s - 1, so it starts at "no change" (an
    untrained generator copies its input instead of drifting by its random bias at every
    roll-out step); gradients still reach the zeroed layer. The weights are drawn before they
    are zeroed, so the global RNG advances as for any other head.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, zero_init: bool = False) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.Sigmoid())
        if zero_init:
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(cast(torch.Tensor, self.conv.bias))

    @property
    def conv(self) -> nn.Conv2d:
        return cast(nn.Conv2d, self[0])


class Encoder(nn.Module):
    """Stem conv (full resolution, or half with stem_stride 2), then `depth` stages of
    (stride-2 conv, conv)."""

    def __init__(self, in_channels: int, widths: list[int], stem_stride: int = 1) -> None:
        super().__init__()
        self.stem = conv(in_channels, widths[0], stride=stem_stride)
        self.stages = nn.ModuleList(
            nn.Sequential(
                conv(widths[i], widths[i + 1], stride=2), conv(widths[i + 1], widths[i + 1])
            )
            for i in range(len(widths) - 1)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]  # (B, w0, H / s, W / s), s = stem stride
        for stage in self.stages:
            feats.append(stage(feats[-1]))  # (B, w_i, H / (s * 2**i), W / (s * 2**i))
        return feats


class UpStage(nn.Module):
    """One decoder stage: double the resolution, then fuse with the encoder skip of that size.

    "upsample": interpolate x2, then one 3x3 conv over [upsampled, skip] (cheaper than a conv
    before the concatenation, which matters at full resolution). "transposed": a 4x4 stride-2
    transposed conv reduces the channels, then a 3x3 conv over [upsampled, skip].
    """

    def __init__(self, c_in: int, c_skip: int, c_out: int, layout: UNetLayout) -> None:
        super().__init__()
        self.up = upsampler(c_in, c_out, layout)
        c_up = c_out if layout.decoder == "transposed" else c_in
        self.fuse = conv(c_up + c_skip, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)  # (B, c_in or c_out, 2h, 2w)
        return self.fuse(torch.cat([x, skip], dim=1))  # (B, c_out, 2h, 2w)


class Decoder(nn.Module):
    """Decoder stages from level `start` (deep) up to level `stop` (shallower), with skips."""

    def __init__(self, widths: list[int], start: int, stop: int, layout: UNetLayout) -> None:
        super().__init__()
        self.levels = list(range(start - 1, stop - 1, -1))  # target level of each stage
        self.stages = nn.ModuleList(
            UpStage(widths[lvl + 1], widths[lvl], widths[lvl], layout) for lvl in self.levels
        )

    def forward(self, x: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
        for lvl, stage in zip(self.levels, self.stages):
            x = stage(x, feats[lvl])
        return x


class FullResolutionLift(nn.Module):
    """stem_stride 2: half-resolution features x2 (decoder's up-sampling kind), joined with the
    raw input, so the heads predict at full resolution from coarse context + fine detail."""

    def __init__(self, width: int, layout: UNetLayout) -> None:
        super().__init__()
        self.up = upsampler(width, width, layout)

    def forward(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        up = self.up(y)  # channels-last where the weights are (run_state.to_training_layout)
        if not torch.jit.is_tracing() and not up.is_contiguous():
            # the input joins in that layout: concatenated with a plain one, the result came out
            # plain and the head's convolution converted the widest tensor of the network back
            # (with its gradient), 4-10 % of a training step at 128 px (issue L)
            x = x.contiguous(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return torch.cat([up, x], dim=1)  # (B, w0 + C_in, H, W)


class EncoderDecoder(nn.Module):
    """A U-Net mapping its concatenated inputs (B, in_channels, H, W), H and W multiples of
    2**depth * stem_stride, to `out_channels` sigmoid outputs (B, out_channels, H, W)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int,
        layout: UNetLayout,
        zero_head: bool = False,
    ) -> None:
        super().__init__()
        widths = stage_widths(width, layout.depth)
        self.encoder = Encoder(in_channels, widths, layout.stem_stride)
        self.decoder = Decoder(widths, layout.depth, 0, layout)
        self.lift = FullResolutionLift(widths[0], layout) if layout.stem_stride == 2 else None
        head_in = widths[0] + in_channels if self.lift is not None else widths[0]
        self.head = Head(head_in, out_channels, layout.head_kernel, zero_init=zero_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = self.decoder(feats[-1], feats)
        out: torch.Tensor = self.head(self.lift(y, x) if self.lift is not None else y)
        return out
