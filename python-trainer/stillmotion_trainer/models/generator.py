"""The next-frame generator G(I_t, M_t) -> (I_{t+1}, M_{t+1}) of METHOD.md (claims 5-7).

This module holds the literal G and `GeneratorConfig`, the structure of every generator (the
form stored in checkpoints and ONNX). Both arrangements the method asks for are built from the
layers of models/blocks.py:

- ``separate`` (claims 5-6): two encoder-decoder networks with different structures, one predicts
  the image, the other (half as wide, its own encoder) predicts the mask;
- ``shared`` (claim 7): one shared encoder and the first ``shared_decoder_stages`` decoder
  stages shared, then the decoder branches into an image branch and a mask branch.

Encoders are groups of convolutions (stride-2 convolution per stage); decoders are groups of
upsampling + convolution or transposed convolutions. Skip connections join each decoder stage to
the encoder stage of the same resolution (a U-Net) because the next frame is mostly the current
one: the network should only have to learn the change. Images and masks leave through a sigmoid,
so outputs lie in [0, 1] like the inputs.

``stem_stride=2`` starts the encoder at half resolution (as real-time segmentation networks do):
nothing but the output heads runs at full resolution, where each head sees the upsampled decoder
features concatenated with the raw input (image and mask), which carries the full-resolution
detail. This cuts the CPU time about 1.6-fold (measured, docs/models.md); the ``realtime``
preset uses it.

Any H, W is accepted: the input is padded (edge replication) to a multiple of ``multiple``
(``2**depth``, times 2 with ``stem_stride=2``) and the outputs are cropped back, so callers never
resize for the network. Padding and cropping are traced as shape arithmetic, which keeps height
and width dynamic in the ONNX export.

Weights are initialised from torch's global RNG: call ``torch.manual_seed(seed)`` before
``build_generator`` (models/factory.py, which also builds the next-frame variant of
models/next_frame.py) for a reproducible network (the training loop does).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from stillmotion_trainer.models.blocks import (
    Decoder,
    Encoder,
    EncoderDecoder,
    FullResolutionLift,
    Head,
    pad_to_multiple,
    stage_widths,
)
from stillmotion_trainer.models.warp import MATCHERS

__all__ = [
    "DECODERS",
    "GeneratorConfig",
    "IMAGE_HEADS",
    "LiteralGenerator",
    "MASK_HEADS",
    "SeparateGenerator",
    "SharedGenerator",
    "UPSAMPLE_MODES",
    "VARIANTS",
    "generator_config_fields",
]

VARIANTS = ("separate", "shared")
DECODERS = ("upsample", "transposed")
UPSAMPLE_MODES = ("bilinear", "nearest")
MASK_HEADS = ("conv", "warp")
IMAGE_HEADS = ("direct", "warp")
REFINE_SCALES = (1, 2)


@dataclass
class GeneratorConfig:
    """Structure of a generator; ``dataclasses.asdict`` of it is stored in checkpoints and ONNX.

    variant: "separate" (two networks, claims 5-6) or "shared" (shared encoder, claim 7).
    channels: image channels, 1 (ultrasound) or 3 (endoscopy).
    base_width: channels of the full-resolution stage; each deeper stage doubles it (max x8).
    depth: number of down-sampling (and up-sampling) stages.
    decoder: "upsample" (interpolation + 3x3 conv) or "transposed" (4x4 stride-2 transposed conv).
    upsample_mode: interpolation of the "upsample" decoder, "bilinear" or "nearest".
    shared_decoder_stages: "shared" only: how many decoder stages (deepest first) both outputs
        share before branching; None = all of them (the branches are then just the two heads).
    stem_stride: 1 = the encoder starts at full resolution; 2 = at half resolution, the heads
        fuse the upsampled features with the raw input at full resolution (faster).
    head_kernel: kernel of the output heads' convolution, 3 or 1 (1x1 heads are the cheapest
        full-resolution layer; with stem_stride 2 they still see every input pixel).
    next_frame_input: False = the literal G(I_t, M_t); True = the mask branch also sees the next
        real frame, G(I_t, M_t, I_{t+1}) (Fig. 6, models/next_frame.py); the image branch never
        sees it.
    mask_head: next_frame_input only: "warp" (M^_{t+1} = M^_t carried along the displacement
        between I_t and I_{t+1}, models/warp.py) or "conv" (an encoder-decoder over
        [I_t, M^_t, I_{t+1}]); the literal generator has "conv" heads only.
    image_residual / mask_residual: the head predicts the change instead of the output:
        out = clamp(input + (2 s - 1), 0, 1) with s the head's sigmoid, so an untrained network
        starts near "copy the input" (the next frame is mostly the current one; a residual mask
        cannot drift to a constant unless the heads learn to push every pixel there).
    mask_refine: mask_head "warp" only: a small encoder-decoder over [I_{t+1}, warped mask]
        corrects the warped mask (residual, zero-initialised: untrained it changes nothing), so
        the mask can snap to what the next frame shows instead of only following the motion
        (models/next_frame.py).
    refine_width: mask_refine only: base width of the correction's encoder-decoder; None = half
        of base_width (at least 2). The correction is what finds a lesion that re-enters the
        view, so its width buys detection (docs/recipes.md, round 3).
    refine_scale: mask_refine only: the correction runs at 1/refine_scale of the frame's
        resolution (1 or 2): it reads the next frame and the carried mask box-averaged by that
        factor, and its output s is upsampled bilinearly before it corrects the full-size mask
        (blocks.run_downscaled). 2 gives the correction a quarter of the pixels; the shipped
        model's 256 px export uses it (docs/models.md, "The correction at half size"). 1, the
        default, is how checkpoints written before the field existed were trained.
    matcher: mask_head "warp" only: the displacement's matching pyramid (models/warp.py,
        MATCHERS): "narrow" (3 levels, reach 29 px, 3x3 cost windows; the default, so that
        checkpoints written before the field existed load as they were trained), "wide"
        (6 levels, reach 125 px, 5x5 windows: real endoscopy, docs/real-data.md), "wide-grey"
        ("wide" matching at full resolution on the grey image: the shipped propagation model,
        faster at the same Dice), "wide-half" ("wide" without its full-resolution level:
        faster still, Dice -0.003 at 256 px, -0.011 at 128; docs/models.md, "Cheaper matchers")
        or "wide-half-grey" ("wide-half" whose finest level, 1/2, matches the grey image: the
        256 px export's, docs/models.md "The matcher at half resolution in grey").
    image_head: how the image branch makes I^_{t+1}: "direct" (the head paints it, optionally as
        a residual; the default, so that checkpoints written before the field existed load as
        they were trained) or "warp" (I_t moved by a predicted motion field plus a small learned
        residual, models/image_warp.py: the still's identity kept by construction; the same
        field carries the mask when generating, docs/generation.md). "warp" needs
        next_frame_input, mask_head "warp" and mask_refine (its `next_mask_motion` output is
        the mask carried by the image's field).
    collapse_guard: mask_refine only, at inference (the correction not training): a sample
        whose corrected mask keeps less than this fraction of the carried mask's area, where the
        carried mask covers more than half a pixel, takes the carried mask instead; 0 turns it
        off. A correction fitted to a key frame can erase a mask the matcher carried correctly
        (docs/real-data.md, "The collapse guard"); the default 0.25 applies to checkpoints
        written before the field existed too.
    """

    variant: str = "shared"
    channels: int = 3
    base_width: int = 16
    depth: int = 3
    decoder: str = "upsample"
    upsample_mode: str = "bilinear"
    shared_decoder_stages: Optional[int] = None
    stem_stride: int = 1
    head_kernel: int = 3
    next_frame_input: bool = False
    mask_head: str = "conv"
    image_residual: bool = False
    mask_residual: bool = False
    mask_refine: bool = False
    refine_width: Optional[int] = None
    refine_scale: int = 1
    matcher: str = "narrow"
    image_head: str = "direct"
    collapse_guard: float = 0.25

    def validate(self) -> "GeneratorConfig":
        """Raise ValueError naming the field and the allowed values; return self when valid."""
        self._check_literal_fields()
        self._check_next_frame_fields()
        return self

    def _check_literal_fields(self) -> None:
        """The fields of the literal G (this module)."""
        _check_choice("variant", self.variant, VARIANTS)
        _check_choice("decoder", self.decoder, DECODERS)
        _check_choice("upsample_mode", self.upsample_mode, UPSAMPLE_MODES)
        _check_choice("channels", self.channels, (1, 3))
        _check_choice("stem_stride", self.stem_stride, (1, 2))
        _check_choice("head_kernel", self.head_kernel, (1, 3))
        if not isinstance(self.base_width, int) or self.base_width < 2:
            raise ValueError(f"base_width: expected an integer >= 2, got {self.base_width!r}")
        if not isinstance(self.depth, int) or not 1 <= self.depth <= 6:
            raise ValueError(f"depth: expected an integer in 1..6, got {self.depth!r}")
        s = self.shared_decoder_stages
        if s is not None:
            if self.variant != "shared":
                raise ValueError(
                    f"shared_decoder_stages: only meaningful for variant 'shared', got {s!r} "
                    f"with variant {self.variant!r} (leave it None)"
                )
            if not isinstance(s, int) or not 0 <= s <= self.depth:
                raise ValueError(
                    f"shared_decoder_stages: expected None or an integer in 0..depth "
                    f"(0..{self.depth}), got {s!r}"
                )

    def _check_next_frame_fields(self) -> None:
        """The fields of the next-frame variant (models/next_frame.py, models/image_warp.py) and
        how they combine. They stay in this flat config, not in a config of next_frame.py: a
        checkpoint stores one flat dict, validated as a whole before any network is chosen."""
        _check_choice("next_frame_input", self.next_frame_input, (False, True))
        _check_choice("mask_head", self.mask_head, MASK_HEADS)
        _check_choice("image_residual", self.image_residual, (False, True))
        _check_choice("mask_residual", self.mask_residual, (False, True))
        _check_choice("mask_refine", self.mask_refine, (False, True))
        if self.mask_refine and self.mask_head != "warp":
            raise ValueError(
                "mask_refine: true needs mask_head 'warp' (it corrects the warped mask)"
            )
        r = self.refine_width
        if r is not None:
            if not isinstance(r, int) or isinstance(r, bool) or r < 2:
                raise ValueError(f"refine_width: expected None or an integer >= 2, got {r!r}")
            if not self.mask_refine:
                raise ValueError(
                    f"refine_width: only meaningful with mask_refine: true, got {r!r} "
                    "(leave it None)"
                )
        _check_choice("refine_scale", self.refine_scale, REFINE_SCALES)
        if self.refine_scale != 1 and not self.mask_refine:
            raise ValueError(
                f"refine_scale: only meaningful with mask_refine: true, got {self.refine_scale!r} "
                "(leave it 1)"
            )
        g = self.collapse_guard
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 <= g < 1:
            raise ValueError(f"collapse_guard: expected a number in [0, 1), got {g!r}")
        _check_choice("matcher", self.matcher, tuple(MATCHERS))
        if self.matcher != "narrow" and self.mask_head != "warp":
            raise ValueError(
                f"matcher: only meaningful with mask_head 'warp', got {self.matcher!r} "
                f"with mask_head {self.mask_head!r} (leave it 'narrow')"
            )
        _check_choice("image_head", self.image_head, IMAGE_HEADS)
        if self.image_head == "warp" and not (
            self.next_frame_input and self.mask_head == "warp" and self.mask_refine
        ):
            raise ValueError(
                "image_head: 'warp' needs next_frame_input=True, mask_head 'warp' and "
                "mask_refine: true (its next_mask_motion output carries the mask along the "
                "image's field), got next_frame_input="
                f"{self.next_frame_input!r}, mask_head {self.mask_head!r}, "
                f"mask_refine {self.mask_refine!r}"
            )
        if self.image_head == "warp" and self.image_residual:
            raise ValueError(
                "image_residual: only meaningful with image_head 'direct' (the warp image head "
                "has its own bounded residual), got true with image_head 'warp'"
            )
        if self.mask_head == "warp" and not self.next_frame_input:
            raise ValueError(
                "mask_head: 'warp' needs next_frame_input=True (the displacement is measured "
                "between I_t and I_{t+1}); the literal G(I_t, M_t) has 'conv' only"
            )

    @property
    def multiple(self) -> int:
        """Inputs are padded internally to a multiple of this (2**depth * stem_stride)."""
        return 2**self.depth * self.stem_stride


def generator_config_fields() -> list[str]:
    return [f.name for f in fields(GeneratorConfig)]


def _check_choice(name: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        allowed_text = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name}: unsupported value {value!r}. Should be one of: {allowed_text}")


class LiteralGenerator(nn.Module):
    """G(I_t, M_t): input checks, pad-to-multiple / crop-back and the residual read-out around
    `_predict`, which a variant implements on the padded (B, C+1, H', W') input."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def _predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,C,H,W), (B,1,H,W) in [0,1] -> next image (B,C,H,W), next mask (B,1,H,W) in [0,1]."""
        if not torch.jit.is_tracing():  # shape checks would freeze sizes into an ONNX trace
            self._check_inputs(image, mask)
        h, w = image.shape[-2], image.shape[-1]
        x = pad_to_multiple(torch.cat([image, mask], dim=1), self.cfg.multiple, (h, w))
        next_image, next_mask = self._predict(x)
        next_image, next_mask = next_image[..., :h, :w], next_mask[..., :h, :w]
        if self.cfg.image_residual:  # the head's sigmoid s in (0, 1) is read as a change 2s - 1
            next_image = (image + 2 * next_image - 1).clamp(0.0, 1.0)
        if self.cfg.mask_residual:
            next_mask = (mask + 2 * next_mask - 1).clamp(0.0, 1.0)
        return next_image, next_mask

    def _check_inputs(self, image: torch.Tensor, mask: torch.Tensor) -> None:
        c = self.cfg.channels
        if image.dim() != 4 or image.shape[1] != c:
            raise ValueError(f"image: expected shape (B, {c}, H, W), got {tuple(image.shape)}")
        expected = (image.shape[0], 1, image.shape[2], image.shape[3])
        if tuple(mask.shape) != expected:
            raise ValueError(f"mask: expected shape {expected}, got {tuple(mask.shape)}")


class SharedGenerator(LiteralGenerator):
    """Claim 7: one encoder; decoder shared for the first stages, then image and mask branches."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__(cfg)
        widths = stage_widths(cfg.base_width, cfg.depth)
        shared = cfg.depth if cfg.shared_decoder_stages is None else cfg.shared_decoder_stages
        branch_level = cfg.depth - shared  # resolution level where the two branches start
        self.encoder = Encoder(cfg.channels + 1, widths, cfg.stem_stride)
        self.shared_decoder = Decoder(widths, cfg.depth, branch_level, cfg)
        self.image_decoder = Decoder(widths, branch_level, 0, cfg)
        self.mask_decoder = Decoder(widths, branch_level, 0, cfg)
        # stem_stride 2: lift to full resolution once when the decoder is fully shared, else
        # once per branch (the branches' features differ)
        self.lifts = nn.ModuleList()
        head_in = widths[0]
        if cfg.stem_stride == 2:
            for _ in range(1 if shared == cfg.depth else 2):
                self.lifts.append(FullResolutionLift(widths[0], cfg))
            head_in = widths[0] + cfg.channels + 1
        self.image_head = Head(head_in, cfg.channels, cfg.head_kernel, cfg.image_residual)
        self.mask_head = Head(head_in, 1, cfg.head_kernel, cfg.mask_residual)

    def _predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.encoder(x)
        y = self.shared_decoder(feats[-1], feats)  # (B, w_b, H / (s 2**b), W / (s 2**b))
        y_image = self.image_decoder(y, feats)  # (B, w0, H / s, W / s)
        y_mask = self.mask_decoder(y, feats)
        if len(self.lifts) == 1:  # fully shared decoder: y_image is y_mask
            y_image = y_mask = self.lifts[0](y_image, x)  # (B, w0 + C + 1, H, W)
        elif len(self.lifts) == 2:
            y_image, y_mask = self.lifts[0](y_image, x), self.lifts[1](y_mask, x)
        if y_image is y_mask:
            return _heads_on_shared_features(y_image, self.image_head, self.mask_head)
        return self.image_head(y_image), self.mask_head(y_mask)  # (B, C, H, W), (B, 1, H, W)


def _heads_on_shared_features(
    y: torch.Tensor, image_head: Head, mask_head: Head
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both heads applied to the same features, as ONE convolution with their stacked weights.

    Same result as running them apart (output channels of a convolution are independent), but
    one pass over the largest tensor of the network: the heads are full-resolution convolutions
    with very few outputs, which onnxruntime pads to 8-channel blocks, so two of them cost twice
    one (measured: the two 3x3 heads took 7.5 of 13.6 ms per 256x256 frame, fused 5.7 of 15.1
    under the same load; docs/models.md).
    """
    conv_image, conv_mask = image_head.conv, mask_head.conv
    weight = torch.cat([conv_image.weight, conv_mask.weight])  # (C + 1, c_in, k, k)
    bias = torch.cat([_bias(conv_image), _bias(conv_mask)])
    padding = conv_image.kernel_size[0] // 2
    out = torch.sigmoid(F.conv2d(y, weight, bias, padding=padding))  # (B, C + 1, H, W)
    c = conv_image.out_channels
    return out[:, :c], out[:, c:]


def _bias(conv: nn.Conv2d) -> torch.Tensor:
    assert conv.bias is not None  # heads are built with a bias
    return conv.bias


class SeparateGenerator(LiteralGenerator):
    """Claims 5-6: two networks with different structures (the mask net is half as wide)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__(cfg)
        c = cfg.channels
        self.image_net = EncoderDecoder(c + 1, c, cfg.base_width, cfg, cfg.image_residual)
        self.mask_net = EncoderDecoder(
            c + 1, 1, max(2, cfg.base_width // 2), cfg, cfg.mask_residual
        )

    def _predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image_net(x), self.mask_net(x)  # (B, C, H, W), (B, 1, H, W)
