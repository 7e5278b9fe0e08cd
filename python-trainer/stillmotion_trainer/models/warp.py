"""Dense displacement between two frames and backward warping, for the `warp` mask head.

The mask of the next frame is the current mask carried along the motion between the frames:
M^_{t+1}(x) = M^_t(x + u(x)), where u is the displacement from frame t+1 back to frame t.
u is estimated coarse-to-fine from two small cost volumes (a correlation layer, as in
optical-flow networks) with a soft arg-min, so it is differentiable and exports to ONNX with
plain ops (Pad, Slice, Sub, Mul, Split, Sum, Max, Exp, Conv, Resize) plus GridSample (opset 16):

1. both frames -> features at each level's resolution (the matcher's strides, `MATCHERS`): the
   average-pooled image, normalised per channel (zero mean, unit variance: brightness and glare
   changes cancel), next to a learned 3x3-conv embedding of it; a matcher with `grey_finest`
   matches at its finest level on the normalised grey image alone (mean over the channels, one
   channel, no embedding);
2. coarsest level: for every displacement d in [-r, r]^2 the patch cost
   c_d(x) = mean_kxk mean_channels (f_{t+1}(x) - f_t(x + d))^2 + MOTION_PRIOR |d|^2 (k the
   matcher's window), and the
   local soft arg-min (beta learned per level), the softmax restricted to the 3x3 displacements
   around the best one d*(x) = argmin_d c_d(x):
       u(x) = sum_{|d - d*|_inf <= 1} w_d d / sum w_d,   w_d = exp(-beta * c_d(x));
   a softmax over the whole window is biased towards its centre wherever the cost surface is
   flat or noisy (speckle, texture-less tissue): every step under-moves the mask, and along a
   chain of 50-150 frames the bias accumulates until the mask slides off the lesion (issue J:
   the ultrasound chain that vanished; docs/real-data.md, "Long chains");
3. finer levels: the same around the upsampled coarser displacement (f_t warped by it first);
4. the mask is warped with bilinear grid sampling; outside the frame it reads 0 (a lesion that
   leaves the view is gone, which is the truth).

The match needs no training (the normalised image alone already matches); training tunes beta
and the learned embedding through the mask losses.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from stillmotion_trainer.autograd_state import keeps_graph
from stillmotion_trainer.models.channel_reduce import (
    channel_max,
    channel_mean,
    channel_sum,
    static_channels,
)
from stillmotion_trainer.models.pyramid import pooled_pyramid
from stillmotion_trainer.sliding import shifted_sum


@dataclass(frozen=True)
class Matcher:
    """The matching pyramid: (stride, search radius) per level, coarse to fine, the side of the
    square window each patch cost is averaged over (step 2's mean_kxk), and whether the finest
    level matches the normalised grey image alone (step 1)."""

    levels: tuple[tuple[int, int], ...]
    window: int
    grey_finest: bool = False

    def learned(self) -> tuple[bool, ...]:
        """Per level, coarse to fine: whether it has a learned embedding (weights)."""
        last = len(self.levels) - 1
        return tuple(not (self.grey_finest and i == last) for i in range(len(self.levels)))


# GeneratorConfig.matcher picks one (docs/real-data.md, "What moved the numbers"):
# - "narrow": +-24 pixels at 1/8, +-4 at 1/2, +-1 at full resolution, 3x3 cost windows: the
#   first warp head, tuned on synthetic video (reach sum(s * r) = 29 px); older checkpoints;
# - "wide": two more coarse levels (1/32, 1/16) and one in between (1/4), radius 2 at every level
#   but the finest, 5x5 cost windows (reach 125 px). Real laryngoscopy moves 1-20 video frames
#   between annotated frames, beyond "narrow"'s reach, and 3x3 patches match glare and speckle.
#   Untrained, keys every 10 frames, Dice 128 px 0.460 -> 0.534, 256 px 0.406 -> 0.554 (Farneback
#   0.408 / 0.411); without the 1/32 level 256 px stayed at 0.506 (docs/real-data.md);
# - "wide-grey": "wide" whose full-resolution level matches the normalised grey image (1 channel)
#   instead of the image and its embedding (7 channels, warped and compared at every pixel): the
#   shipped propagation model. Against "wide", the same weights, vocalfolds, keys every 10 frames
#   / first frame only, no adaptation: Dice 0.584 / 0.142 vs 0.582 / 0.141 at 128 px and
#   0.590 / 0.147 vs 0.589 / 0.146 at 256 px; propagation at 256 px 1.24x as fast (1 thread);
# - "wide-half": "wide" without its full-resolution level (the displacement found at 1/2
#   upsampled to the frame): 1.63x as fast, but Dice 0.571 / 0.136 at 128 px (-0.011 / -0.005)
#   and 0.586 / 0.145 at 256 px (-0.003 / -0.002): an option for speed at 256 px and above;
# - "wide-half-grey": "wide-half" whose finest level (1/2) matches the normalised grey image, as
#   "wide-grey"'s full-resolution level does: the 256 px export's matcher since stop 28 (its
#   cost volume and features 7x fewer channels at the costliest level; Dice in docs/models.md,
#   "The matcher at half resolution in grey").
# `set-matcher` turns a "wide" checkpoint into either (models/matcher_swap.py; docs/models.md,
# "Cheaper matchers").
MATCHERS = {
    "narrow": Matcher(levels=((8, 3), (2, 2), (1, 1)), window=3),
    "wide": Matcher(levels=((32, 2), (16, 2), (8, 2), (4, 2), (2, 2), (1, 1)), window=5),
    "wide-half": Matcher(levels=((32, 2), (16, 2), (8, 2), (4, 2), (2, 2)), window=5),
    "wide-grey": Matcher(
        levels=((32, 2), (16, 2), (8, 2), (4, 2), (2, 2), (1, 1)), window=5, grey_finest=True
    ),
    "wide-half-grey": Matcher(
        levels=((32, 2), (16, 2), (8, 2), (4, 2), (2, 2)), window=5, grey_finest=True
    ),
}
EMBED_CHANNELS = 4
MOTION_PRIOR = 0.05  # cost per pixel^2 of displacement (docs/recipes.md: 0 shrinks generated masks)


def normalise(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Per image and channel: (x - mean) / std over H, W. (B, C, h, w) -> same."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = (x - mean).pow(2).mean(dim=(2, 3), keepdim=True).add(eps).sqrt()
    return (x - mean) / std


def pixel_grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel x and y coordinates of x (B, C, H, W): (1, 1, 1, W) and (1, 1, H, 1)."""
    h, w = x.shape[-2], x.shape[-1]
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, 1, -1)
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, 1, -1, 1)
    return xs, ys


def sources_in_frame(u: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """v(p) = clamp(p + gain u(p), 0, (W - 1, H - 1)) - p: the field u (B, 2, H, W) in pixels,
    times `gain`, with every source p + v(p) inside the frame."""
    xs, ys = pixel_grid(u)
    w, h = u.shape[-1], u.shape[-2]
    vx = (xs + gain * u[:, 0:1]).clamp(0.0, w - 1.0) - xs
    vy = (ys + gain * u[:, 1:2]).clamp(0.0, h - 1.0) - ys
    return torch.cat([vx, vy], dim=1)


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out(p) = x(p + flow(p)), bilinear, zeros outside.

    x (B, C, H, W); flow (B, 2, H, W) in pixels, channel 0 = dx, channel 1 = dy. Sizes are taken
    from the tensors (traced as shape arithmetic, so H and W stay dynamic in ONNX).
    """
    h, w = x.shape[-2], x.shape[-1]
    xs, ys = pixel_grid(x)
    # grid_sample's [-1, 1] with align_corners=False: pixel p -> (2p + 1) / size - 1
    gx = (2 * (xs + flow[:, 0:1]) + 1) / w - 1  # (B, 1, H, W)
    gy = (2 * (ys + flow[:, 1:2]) + 1) / h - 1
    grid = torch.cat([gx, gy], dim=1).permute(0, 2, 3, 1)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def upsample_motion(flow: torch.Tensor, stride: int, size: tuple[int, int]) -> torch.Tensor:
    """A displacement of a level of stride s, (B, 2, h, w) in that level's pixels, as the
    frames' field: bilinear to size (H, W) (align_corners False), times s. -> (B, 2, H, W)."""
    full = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    return full * float(stride)


def cost_volume(
    ref: torch.Tensor, other: torch.Tensor, radius: int, window: int = 3
) -> torch.Tensor:
    """c_d(x) = mean_kxk mean_c (ref(x) - other(x + d))^2 for d in [-r, r]^2, k = window (odd):
    (B, (2r+1)^2, h, w). The window mean counts only pixels inside the frame.

    Displacements are ordered dy-major (d = (dy, dx), dy = -r..r, then dx = -r..r).
    """
    h, w = ref.shape[-2], ref.shape[-1]
    padded = F.pad(other, [radius, radius, radius, radius], mode="replicate")
    shifts = [(dy, dx) for dy in range(2 * radius + 1) for dx in range(2 * radius + 1)]
    if keeps_graph(ref, other):  # autograd, or a trace (the export)
        # the export takes each channel mean as a sum (channel_reduce.py) and divides once for
        # all displacements; a one-channel (grey) level has nothing to average
        tracing = torch.jit.is_tracing()
        costs = []
        for dy, dx in shifts:
            diff = ref - padded[:, :, dy : dy + h, dx : dx + w]
            # diff * diff, not diff.pow(2): the same numbers, and onnxruntime's Pow is a
            # general power (1.5 of a 256 px motion graph's 10.7 ms, against 1.1 for the Mul)
            squared = diff * diff
            costs.append(channel_sum(squared) if tracing else squared.mean(dim=1, keepdim=True))
        cost = torch.cat(costs, dim=1)  # (B, D, h, w)
        channels = static_channels(ref)
        if tracing and channels > 1:
            cost = cost / channels
    else:  # no autograd graph to keep (a frozen matcher's training, inference): the same
        # numbers with one difference buffer squared in place and each displacement's mean
        # written into its channel, no concatenation: 1.4-1.6x faster (issue L)
        dtype = torch.promote_types(ref.dtype, other.dtype)  # as `ref - other` would give
        cost = ref.new_empty((ref.shape[0], len(shifts), h, w), dtype=dtype)
        diff = torch.empty_like(ref, dtype=dtype)
        for k, (dy, dx) in enumerate(shifts):
            torch.sub(ref, padded[:, :, dy : dy + h, dx : dx + w], out=diff)
            torch.mean(diff.mul_(diff), dim=1, keepdim=True, out=cost[:, k : k + 1])
    # the k x k window mean as a k x 1 mean then a 1 x k one: the in-frame part of a window is a
    # rectangle, so its count is the product of the two 1-D counts and the result is the same,
    # with 2k instead of k^2 additions per value; exported as one k x k AveragePool
    if torch.jit.is_tracing():
        return _WindowMean2d.apply(cost, window)
    return window_mean(window_mean(cost, window, dim=2), window, dim=3)


class _WindowMean2d(torch.autograd.Function):
    """The k x k window mean of cost_volume (count_include_pad False) as window_mean along H then
    W, exported as one k x k AveragePool: onnxruntime pools a 5 x 5 window in one pass 1.6-1.7x
    faster than a 5 x 1 then a 1 x 5 AveragePool ((1, 25, 128, 128), one core: 0.9-1.5 ms against
    1.5-2.6; docs/models.md, "One pyramid for the matcher's levels"). The trace re-run computes
    what the eager model does, bit for bit; onnxruntime adds the window in its own order (the
    last bit, as for every summing node of the export)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, cost: torch.Tensor, window: int
    ) -> torch.Tensor:
        return window_mean(window_mean(cost, window, dim=2), window, dim=3)

    @staticmethod
    def symbolic(g: Any, cost: Any, window: int) -> Any:
        half = window // 2
        with warnings.catch_warnings():  # g.op's FutureWarning in PyTorch 1.13 (channel_reduce.py)
            warnings.simplefilter("ignore", FutureWarning)
            return g.op(
                "AveragePool",
                cost,
                kernel_shape_i=[window, window],
                strides_i=[1, 1],
                pads_i=[half, half, half, half],
                count_include_pad_i=0,
            )


def window_mean(x: torch.Tensor, window: int, dim: int) -> torch.Tensor:
    """The mean over a centred window of `window` (odd) positions along `dim`, counting only
    positions inside x: out[i] = sum_{|j - i| <= k // 2, 0 <= j < n} x[j] / (that count).

    What F.avg_pool2d with a (k, 1) or (1, k) kernel, stride 1 and count_include_pad=False
    computes, bit for bit (the same additions in the same order), as k shifted slices of the
    zero-padded x added up (sliding.shifted_sum): PyTorch's CPU pooling kernel took 4-5x longer
    (about 8 % of a training step of the real recipe at 128 px, issue L)."""
    n, half = x.shape[dim], window // 2
    total = shifted_sum(x, [1.0] * window, dim)
    i = torch.arange(n, dtype=x.dtype, device=x.device)
    count = (i + half).clamp(max=n - 1) - (i - half).clamp(min=0) + 1
    shape = [1] * x.dim()
    shape[dim] = n
    return total.div_(count.view(shape))  # in place: total is this function's own


def spread_to_neighbours(best: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """The one-hot of the best displacement(s) spread to their neighbours: the 0/1 1x1
    convolution sum_d' window[d, d'] best[d'] > 0, (B, D, h, w), (D, D, 1, 1) -> (B, D, h, w) bool.

    Why not F.conv2d on `best` as it comes: on the CPU, oneDNN reorders a plain (NCHW) input of
    few channels into its blocked layout and back at each call, so this convolution took longer
    than the cost volume's differences (a training step of the real recipe at 128 px, issue L);
    on a channels-last copy it runs as one matrix multiply, 1.4x faster copy included, and as
    exactly: 0/1 inputs and weights sum to small integers in any order. (The soft arg-min's
    other 1x1 convolution, of real weights, stays plain: a different summation order changes
    its last bit, and an arg-min downstream can turn that into a different match, so the eager
    model would drift from its exported graph.) The export traces the plain convolution."""
    if best.device.type == "cpu" and not torch.jit.is_tracing():
        best = best.contiguous(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return F.conv2d(best, window) > 0


def displacements(radius: int) -> torch.Tensor:
    """The (dx, dy) of each cost-volume channel: (D, 2)."""
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([dx.flatten(), dy.flatten()], dim=1)


def neighbours(d: torch.Tensor) -> torch.Tensor:
    """The local soft arg-min's window: (D, 2) displacements -> (D, D, 1, 1) 0/1 kernel whose
    entry (d', d) is 1 where |d - d'|_inf <= 1 (a 1x1 convolution of a one-hot over D with it
    marks the best displacement's neighbours)."""
    return ((d[:, None, :] - d[None, :, :]).abs().amax(-1) <= 1.0).float()[..., None, None]


def _kept_on(table: list[torch.Tensor], level: int, device: torch.device) -> torch.Tensor:
    """table[level] on `device`, copied there once and kept (constants that are not buffers)."""
    t = table[level]
    if t.device != device:
        t = table[level] = t.to(device)
    return t


class Embedding(nn.Module):
    """Image -> matching features at one stride: [normalised pooled image, learned 3x3 convs],
    or with `grey` the normalised pooled grey image alone (one channel, no weights)."""

    def __init__(self, channels: int, stride: int, grey: bool = False) -> None:
        super().__init__()
        self.stride = stride
        self.conv: Optional[nn.Sequential] = None
        if not grey:
            self.conv = nn.Sequential(
                nn.Conv2d(channels, EMBED_CHANNELS, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(EMBED_CHANNELS, EMBED_CHANNELS, 3, padding=1),
            )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) frame -> this level's features (pools the frame itself)."""
        # ceil_mode: a frame smaller than the stride (or not a multiple of it) keeps its border
        # as a partial cell, averaged over the pixels it holds, instead of losing it
        return self.from_pooled(pooled_pyramid(image, [self.stride])[self.stride])

    def from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """The frame already pooled by this level's stride, (B, C, ⌈H/s⌉, ⌈W/s⌉) -> features:
        (B, C + E, ⌈H/s⌉, ⌈W/s⌉), or (B, 1, ⌈H/s⌉, ⌈W/s⌉) grey (the mean over the channels of
        the pooled colours: pooling and the channel mean are both means, in either order)."""
        x = normalise(channel_mean(pooled) if self.conv is None else pooled)
        if self.conv is None:
            return x  # (B, 1, ⌈H/s⌉, ⌈W/s⌉)
        return torch.cat([x, normalise(self.conv(x))], dim=1)  # (B, C + E, ⌈H/s⌉, ⌈W/s⌉)


def level_channels(channels: int, matcher: str) -> tuple[int, ...]:
    """Channels of each level's features, coarse to fine: C + EMBED_CHANNELS, 1 where grey."""
    return tuple(
        channels + EMBED_CHANNELS if learned else 1 for learned in MATCHERS[matcher].learned()
    )


class DisplacementEstimator(nn.Module):
    """(I_t, I_{t+1}) -> u, the displacement from frame t+1 back to frame t, in pixels."""

    def __init__(self, channels: int, matcher: str = "narrow") -> None:
        super().__init__()
        if matcher not in MATCHERS:
            raise ValueError(
                f"matcher: unsupported value {matcher!r}. Should be one of: " + ", ".join(MATCHERS)
            )
        self.levels = MATCHERS[matcher].levels
        self.window = MATCHERS[matcher].window
        self.embeddings = nn.ModuleList(
            Embedding(channels, stride, grey=not learned)
            for (stride, _), learned in zip(self.levels, MATCHERS[matcher].learned())
        )
        # soft arg-min sharpness per level, learned in log space (init: beta = 8)
        self.log_beta = nn.Parameter(torch.full((len(self.levels),), 2.0794))
        # The displacement grids are constants and deliberately not buffers: DDP re-broadcasts
        # every buffer in place at each forward (broadcast_buffers), and autograd saves the soft
        # arg-min's kernel, a view of its grid, so a walk's second forward before its one
        # backward made backward fail ("modified by an inplace operation"). Being
        # persistent=False buffers they were never in state_dict: checkpoints are unchanged.
        self._grids = [displacements(radius) for _, radius in self.levels]
        # per level, the local soft arg-min's window in displacement space (same reasons)
        self._windows = [neighbours(d) for d in self._grids]

    def _grid(self, level: int, device: torch.device) -> torch.Tensor:
        """Level `level`'s (D, 2) displacements on `device` (copied there once, then kept)."""
        return _kept_on(self._grids, level, device)

    def _soft_argmin(self, cost: torch.Tensor, level: int) -> torch.Tensor:
        d = self._grid(level, cost.device)  # (D, 2)
        # a small prior for short displacements: among equally good matches (flat texture,
        # borders) the shortest wins, so no motion is invented where nothing moved
        prior = MOTION_PRIOR * d.pow(2).sum(1).view(1, -1, 1, 1)
        beta = self.log_beta[level].exp()
        # without a graph to keep, `cost` (the caller's fresh cost volume) is overwritten in
        # place: the same numbers, 20-30 % faster on the CPU (issue L); not where `cost + prior`
        # promotes (a half-precision cost under CUDA autocast becomes float32, as before)
        in_place = not keeps_graph(cost, beta) and (
            torch.promote_types(cost.dtype, prior.dtype) == cost.dtype
        )
        # softmax over D then the weighted sum of displacements, written as exp / sum and a 1x1
        # convolution: the same numbers, but onnxruntime's Softmax over the channel axis and
        # Einsum were 26 % of a 256x256 frame (docs/models.md, "The recipe's generator")
        z = cost.add_(prior).mul_(-beta) if in_place else -beta * (cost + prior)  # (B, D, h, w)
        z_max = channel_max(z)  # (B, 1, h, w)
        # local window: the displacements within 1 of the best one (module docstring, step 2);
        # the one-hot of the best is spread to its neighbours by a fixed 0/1 1x1 convolution
        best = (z >= z_max).to(z.dtype)  # (B, D, h, w)
        window = _kept_on(self._windows, level, cost.device).to(z.dtype)  # (D, D, 1, 1)
        near = spread_to_neighbours(best, window).to(z.dtype)
        # (exp into a new tensor: PyTorch 1.13's in-place exp_ ran 2.5x slower here, same values)
        e = torch.exp(z.sub_(z_max)).mul_(near) if in_place else torch.exp(z - z_max) * near
        kernel = d.t().reshape(2, -1, 1, 1)  # (2, D, 1, 1): output k = sum_d e_d * d[d, k]
        return F.conv2d(e, kernel) / channel_sum(e)  # (B, 2, h, w), level pixels

    def forward(self, image: torch.Tensor, next_image: torch.Tensor) -> torch.Tensor:
        """Steps 1-3: (B, C, H, W) frames t and t+1 -> (B, 2, H, W), pixels."""
        size = (image.shape[-2], image.shape[-1])
        return self.from_features(self.features(image), self.features(next_image), size)

    def features(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Step 1 alone, one frame: the matching features of each level, coarse to fine,
        [(B, C + E, ⌈H/s⌉, ⌈W/s⌉) for s in the levels' strides]. They depend on that frame only,
        so a chain computes them once per frame and reuses them in both steps the frame takes part
        in (as I_{t+1}, then as I_t: `from_features`; the split ONNX export, docs/models.md)."""
        # one pyramid for all levels: each pooled from the finer one (pyramid.py)
        pooled = pooled_pyramid(image, [embed.stride for embed in self.embeddings])
        return [embed.from_pooled(pooled[embed.stride]) for embed in self.embeddings]

    def from_features(
        self,
        features: list[torch.Tensor],
        next_features: list[torch.Tensor],
        size: tuple[int, int],
    ) -> torch.Tensor:
        """Steps 2-3 from `features` of I_t and I_{t+1}: forward(image, next_image) ==
        from_features(features(image), features(next_image), (H, W)), the same operations in the
        same order. size: the frames' (H, W). -> (B, 2, H, W), pixels."""
        flow = self.level_motion(features, next_features)
        return upsample_motion(flow, self.levels[-1][0], size)

    def level_motion(
        self, features: list[torch.Tensor], next_features: list[torch.Tensor]
    ) -> torch.Tensor:
        """Step 2 alone: the displacement at the finest level (stride s = levels[-1][0]),
        (B, 2, ceil(H / s), ceil(W / s)) in pixels of that level; `upsample_motion` makes it
        the frames' field. The split export's motion graph (it runs apart from the mask step)."""
        flow: Optional[torch.Tensor] = None  # (B, 2, h_l, w_l) in pixels of the current level
        prev_stride = 1
        for level, (stride, radius) in enumerate(self.levels):
            ref, other = next_features[level], features[level]
            if flow is not None:
                up = F.interpolate(
                    flow, size=(ref.shape[-2], ref.shape[-1]), mode="bilinear", align_corners=False
                )
                coarser: torch.Tensor = up * (prev_stride / stride)  # in pixels of this level
                other = warp(other, coarser)
                flow = coarser
            cost = cost_volume(ref, other, radius, self.window)
            step = self._soft_argmin(cost, level)  # (B, 2, h_l, w_l)
            flow = step if flow is None else flow + step
            prev_stride = stride
        assert flow is not None
        return flow
