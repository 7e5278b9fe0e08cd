"""G(I_t, M^_t, I_{t+1}): the propagation variant whose mask branch also sees the next frame.

METHOD.md's generator is G(I_t, M^_t): nothing tells the mask branch where the lesion goes, so
it can only guess the motion. In propagation (Fig. 6) the next real frame exists, so this
variant hands it to the mask branch:

    I^_{t+1} = image branch of the literal generator (variant `separate` or `shared`), from
               (I_t, M^_t) only, so L_I still measures prediction, not copying;
    M^_{t+1} = mask branch from (I_t, M^_t, I_{t+1}):
               "warp": M^_t carried along the displacement from I_{t+1} back to I_t
                       (models/warp.py), no parameters to collapse into a constant mask;
               "conv": an encoder-decoder over [I_t, M^_t, I_{t+1}] with a sigmoid output.
               "warp" + mask_refine: the warped mask W, corrected by an encoder-decoder over
                       [I_{t+1}, W]: clamp(W + 2 s - 1, 0, 1), s its sigmoid, zero-initialised
                       (so "no correction" until trained). Warping alone only follows motion,
                       and its error accumulates along a chain; the correction lets the mask
                       snap to what I_{t+1} shows.

The literal generator inside still has its own mask head (unused here, so its weights get no
gradient); it is kept so that the image branch is exactly the literal one.

With `image_head: warp` the image branch is models/image_warp.ImageWarpBranch instead: I^_{t+1}
= I_t moved by a predicted field plus a small residual, and the third output of
forward_with_motion (ONNX `next_mask_motion`) is M^_t carried by that same field, the mask of
still -> video (generation_step); next_mask stays the propagation mask above.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import nn

from stillmotion_trainer.models.blocks import EncoderDecoder, run_downscaled, run_padded
from stillmotion_trainer.models.generator import (
    GeneratorConfig,
    SeparateGenerator,
    SharedGenerator,
)
from stillmotion_trainer.models.image_warp import ImageWarpBranch
from stillmotion_trainer.models.warp import DisplacementEstimator, upsample_motion, warp


class NextFrameGenerator(nn.Module):
    """forward(image, mask, next_frame) -> (next_image, next_mask); shapes as the literal
    generator's; next_frame is the real I_{t+1}, (B, C, H, W) in [0, 1]."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        literal = dataclasses.replace(cfg, next_frame_input=False, mask_head="conv")
        self.image_model: nn.Module
        if cfg.image_head == "warp":
            self.image_model = ImageWarpBranch(literal)
        elif cfg.variant == "separate":
            self.image_model = SeparateGenerator(literal)
        else:
            self.image_model = SharedGenerator(literal)
        self.displacement: Optional[DisplacementEstimator] = None
        self.mask_net: Optional[EncoderDecoder] = None
        self.refine_net: Optional[EncoderDecoder] = None
        if cfg.mask_head == "warp":
            self.displacement = DisplacementEstimator(cfg.channels, cfg.matcher)
            if cfg.mask_refine:  # a residual correction: zero-initialised, untrained it is 0
                width = cfg.refine_width or max(2, cfg.base_width // 2)
                self.refine_net = EncoderDecoder(cfg.channels + 1, 1, width, cfg, zero_head=True)
        else:  # not residual: the mask is painted from [I_t, M^_t, I_{t+1}]
            width = max(2, cfg.base_width // 2)
            self.mask_net = EncoderDecoder(2 * cfg.channels + 1, 1, width, cfg)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        next_frame: torch.Tensor,
        flow: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pred_image, next_mask, _ = self.forward_with_motion(image, mask, next_frame, flow)
        return pred_image, next_mask

    def forward_with_motion(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        next_frame: torch.Tensor,
        flow: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(next_image, next_mask, motion_mask): motion_mask is the mask carried by the
        displacement alone, before mask_refine's correction (= next_mask without mask_refine,
        and for the conv head); with image_head "warp", the mask carried by the field that moved
        the image. Still -> video uses it (generation_step). flow: the warp head's displacement
        from next_frame back to image when the caller has it already (`FrozenMotion`), else
        it is computed here."""
        if not torch.jit.is_tracing():
            if tuple(next_frame.shape) != tuple(image.shape):
                raise ValueError(
                    f"next_frame: expected the shape of image {tuple(image.shape)}, "
                    f"got {tuple(next_frame.shape)}"
                )
        # (B, C, H, W); the image branch's second output is its own mask: the literal head's
        # (unused) or, for image_head "warp", M^_t carried by the image's field
        pred_image, image_mask = self.image_model(image, mask)
        if self.displacement is not None:
            if flow is None:
                flow = self._displacement(image, next_frame)  # (B, 2, H, W), pixels
            warped = warp(mask, flow).clamp(0.0, 1.0)
            motion = image_mask if self.cfg.image_head == "warp" else warped
            return pred_image, self.correct(next_frame, warped), motion
        assert self.mask_net is not None
        x = torch.cat([image, mask, next_frame], dim=1)  # (B, 2C + 1, H, W)
        next_mask = self._padded(self.mask_net, x)
        return pred_image, next_mask, next_mask

    def _displacement(self, image: torch.Tensor, next_frame: torch.Tensor) -> torch.Tensor:
        """u from I_{t+1} back to I_t; without autograd when the estimator is frozen (its cost
        volumes would otherwise keep every shifted copy for a backward pass that changes
        nothing: about 2/3 of a training step's time, docs/real-data.md)."""
        assert self.displacement is not None
        if self.frozen_displacement() is None:
            return self.displacement(image, next_frame)
        with torch.no_grad():
            return self.displacement(image, next_frame)

    def frozen_displacement(self) -> Optional[DisplacementEstimator]:
        """The warp head's estimator when it is frozen (`freeze_displacement`), else None."""
        d = self.displacement
        return d if d is not None and not d.log_beta.requires_grad else None

    def masks_from_features(
        self,
        features: list[torch.Tensor],
        next_features: list[torch.Tensor],
        next_frame: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(next_mask, motion_mask) of forward_with_motion for a warp head, from the matching
        features of I_t and I_{t+1} (`DisplacementEstimator.features`) instead of the frames:
        what a chain runs per step once each frame's features are computed once (the split
        ONNX export). next_frame (B, C, H, W) is I_{t+1} (the correction reads it), mask M^_t."""
        if self.displacement is None:
            raise ValueError("masks_from_features: the model has no warp head (mask_head: warp)")
        return self.masks_from_motion(
            self.displacement.level_motion(features, next_features), next_frame, mask
        )

    def masks_from_motion(
        self, level_motion: torch.Tensor, next_frame: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """masks_from_features after the match: `level_motion` is
        `DisplacementEstimator.level_motion` (the finest level's displacement), upsampled to
        next_frame's size, carrying M^_t, then corrected. The split export's carry graph: the
        only part of a step that reads the mask, so the match can run ahead of it."""
        assert self.displacement is not None
        size = (next_frame.shape[-2], next_frame.shape[-1])
        stride = self.displacement.levels[-1][0]
        flow = upsample_motion(level_motion, stride, size)  # (B, 2, H, W)
        warped = warp(mask, flow).clamp(0.0, 1.0)
        return self.correct(next_frame, warped), warped

    def correct(self, next_frame: torch.Tensor, warped: torch.Tensor) -> torch.Tensor:
        """mask_refine's correction of the carried mask W for the frame I it lies on:
        clamp(W + 2 s - 1, 0, 1), s = refine_net([I, W]) in (0, 1) (zero-initialised head:
        s = 1/2, no correction), run at 1/refine_scale of the resolution
        (blocks.run_downscaled); W itself without mask_refine. (B, C, H, W), (B, 1, H, W).
        Outside training the result passes `collapse_guard` (GeneratorConfig.collapse_guard)."""
        if self.refine_net is None:
            return warped
        x = torch.cat([next_frame, warped], dim=1)  # (B, C + 1, H, W)
        if self.cfg.refine_scale == 1:
            s = run_padded(self.refine_net, x, self.cfg.multiple)
            corrected = (warped + 2 * s - 1).clamp(0.0, 1.0)
        else:
            # the change 2 s - 1 taken at the correction's size, then brought back up: bilinear
            # upsampling keeps affine maps (its weights sum to 1), so the same values to
            # rounding, and onnxruntime upsamples one plain channel instead of the head's output
            # in its 8-channel blocked layout (0.3 of the 256 px carry graph's 6.8 ms, one core)
            change = run_downscaled(self._change, x, self.cfg.refine_scale, self.cfg.multiple)
            corrected = (warped + change).clamp(0.0, 1.0)
        if self.refine_net.training or self.cfg.collapse_guard <= 0:
            return corrected
        return collapse_guard(corrected, warped, self.cfg.collapse_guard)

    def _change(self, x: torch.Tensor) -> torch.Tensor:
        """The correction's change 2 s - 1, s = refine_net(x) in (0, 1)."""
        assert self.refine_net is not None
        return 2 * self.refine_net(x) - 1

    def _padded(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """net(x) padded to the generator's size multiple and cropped back (blocks.run_padded)."""
        return run_padded(net, x, self.cfg.multiple)


class FrozenMotion:
    """The displacements of a frozen warp head (`train.freeze_displacement`) along a batch's
    walks, from each clip frame's matching features computed once.

    A walk visits a clip's frames several times (a cycle walk out and back: every frame twice
    as I_t and twice as I_{t+1}), and the model computed both frames' features at every
    transition; with the estimator frozen they depend on the frame alone, so `of` computes them
    once for every frame of the batch and `flow` matches the pairs of one transition from them:
    DisplacementEstimator.forward(I_src, I_dst) == from_features(features(I_src),
    features(I_dst)), without autograd, as NextFrameGenerator._displacement runs it frozen.
    """

    def __init__(self, estimator: DisplacementEstimator, frames: torch.Tensor) -> None:
        b, t = frames.shape[:2]  # (B, T, C, H, W)
        self.estimator = estimator
        self.size = (frames.shape[-2], frames.shape[-1])
        with torch.no_grad():
            flat = estimator.features(frames.flatten(0, 1))
            self.features = [f.view(b, t, *f.shape[1:]) for f in flat]  # (B, T, C_l, h_l, w_l)

    @staticmethod
    def of(model: nn.Module, frames: torch.Tensor) -> Optional["FrozenMotion"]:
        """For `model` (or the generator a DistributedDataParallel wraps) with a frozen warp
        head; None for any other generator (its forward computes the displacement)."""
        bare = getattr(model, "module", model)
        estimator = bare.frozen_displacement() if isinstance(bare, NextFrameGenerator) else None
        return None if estimator is None else FrozenMotion(estimator, frames)

    def flow(self, clip: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """(W, 2, H, W) pixels: walk w's displacement from frame dst[w] back to src[w] of clip
        clip[w] (each (W,) long)."""
        with torch.no_grad():
            ref = [f[clip, src] for f in self.features]
            other = [f[clip, dst] for f in self.features]
            return self.estimator.from_features(ref, other, self.size)


def collapse_guard(corrected: torch.Tensor, carried: torch.Tensor, fraction: float) -> torch.Tensor:
    """Per sample b of (B, 1, H, W): carried_b where sum(carried_b) > 1/2 and
    sum(corrected_b) < fraction * sum(carried_b), else corrected_b.

    Why: on real video a correction fitted to one key frame sometimes erases the whole mask the
    matcher carried (vocalfolds seq7 at 256 px: Dice 0.000). A target that truly leaves the view
    leaves the carried mask too (the matcher moves it out), so the guard rarely holds a mask
    the frame no longer shows. Branch-free (torch.where), so the ONNX export carries it and the
    inference library runs the same rule.
    """
    carried_area = carried.sum(dim=(1, 2, 3))  # (B,)
    collapsed = (carried_area > 0.5) & (corrected.sum(dim=(1, 2, 3)) < fraction * carried_area)
    return torch.where(collapsed[:, None, None, None], carried, corrected)


def generation_step(
    model: nn.Module, image: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Fig. 5 step (still -> video) for either generator: (I^_t, M^_t) -> (I^_{t+1}, M^_{t+1}).

    The literal G(I_t, M_t) is applied once. G(I_t, M_t, I_{t+1}) has no real next frame when
    generating, so its own predicted frame stands in: I^_{t+1} from the image branch (which never
    reads the third input; `image` is passed there), then M^_{t+1} = the motion mask of
    (I^_t, M^_t, I^_{t+1}): the mask follows the motion the model generated. mask_refine's
    correction is left out here: it finds the lesion in what a *real* frame shows, and on
    generated frames it grew masks by up to 1.9x over 16 frames (docs/recipes.md, "Still ->
    video"). With image_head "warp" the image is I^_t moved by the image branch's field and the
    motion mask is M^_t carried by that same field (models/image_warp.py), so image and mask
    move together. The inference library's generateFromStill does the same two runs, reading the
    ONNX output `next_mask_motion` (packages/inference/src/still-to-video.ts).
    """
    if not isinstance(model, NextFrameGenerator):  # factory.takes_next_frame
        out: tuple[torch.Tensor, torch.Tensor] = model(image, mask)
        return out
    next_image, _ = model(image, mask, image)
    _, _, motion_mask = model.forward_with_motion(image, mask, next_image)
    return next_image, motion_mask


def image_field(
    model: nn.Module, image: torch.Tensor, mask: torch.Tensor
) -> Optional[torch.Tensor]:
    """The field (B, 2, H, W, pixels) that moves `image` in the model's next step, for a model
    whose image branch warps (image_head "warp", models/image_warp.py); None for the others."""
    if not isinstance(model, NextFrameGenerator):
        return None
    branch = model.image_model
    if not isinstance(branch, ImageWarpBranch):
        return None
    field, _ = branch.motion(image, mask)
    return field


def freeze_displacement(model: nn.Module) -> None:
    """Keep a warp head's displacement estimator at its weights (`train.freeze_displacement`):
    no gradients, run under no_grad. Raises ValueError for a model without one."""
    displacement = model.displacement if isinstance(model, NextFrameGenerator) else None
    if displacement is None:
        raise ValueError(
            "freeze_displacement: the model has no displacement estimator "
            "(model.overrides.mask_head must be warp)"
        )
    displacement.requires_grad_(False)
