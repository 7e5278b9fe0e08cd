"""VideoClipDataset: clips of consecutive frames, with their key and evaluation masks.

Each item is one clip of `clip_len` consecutive frames of one video (METHOD.md "One training
step": the walk needs consecutive real frames, and L_M2 needs a key frame in reach):

    frames    (T, C, H, W) float32 in [0, 1]
    key_masks (T, 1, H, W) float32 in {0, 1}, zeros where the frame has no key mask
    is_key    (T,) bool
    gt_masks  (T, 1, H, W) float32 in {0, 1}, zeros where the frame has no evaluation mask
    has_gt    (T,) bool
    video_id  str
    start     int   index of the clip's first frame in its video
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from stillmotion_trainer.data.augment import ClipAugmentation
from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.images import load_frame, load_mask
from stillmotion_trainer.data.manifest import Manifest, VideoEntry


def _valid_starts(video: VideoEntry, clip_len: int, require_key: bool) -> list[int]:
    keys = video.key_indices
    starts = range(len(video.frames) - clip_len + 1)
    if not require_key:
        return list(starts)
    return [s for s in starts if any(s <= k < s + clip_len for k in keys)]


class VideoClipDataset(Dataset):  # type: ignore[type-arg]
    """Clips from the videos `video_ids` of `manifest`, resized to `size` = (H, W).

    clips_per_video=None enumerates every valid clip; an integer draws that many clips per
    video per epoch, deterministic in (seed, epoch, index). Augmentation is deterministic in the
    same triple; call set_epoch each epoch to get new draws.
    """

    def __init__(
        self,
        manifest: Manifest,
        video_ids: list[str] | tuple[str, ...],
        size: tuple[int, int],
        clip_len: int,
        augment: bool = False,
        seed: int = 0,
        clips_per_video: int | None = None,
        require_key: bool = True,
    ) -> None:
        if clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {clip_len}")
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (height, width) with positive values, got {size}")
        if clips_per_video is not None and clips_per_video < 1:
            raise ValueError(f"clips_per_video must be >= 1 or None, got {clips_per_video}")
        self.manifest = manifest
        self.size = (int(size[0]), int(size[1]))
        self.clip_len = clip_len
        self.augment = augment
        self.seed = seed
        self.clips_per_video = clips_per_video
        self.epoch = 0
        self.videos = [manifest.video(v) for v in video_ids]
        self.starts: list[list[int]] = []
        where = manifest.root / "manifest.json"
        for video in self.videos:
            if len(video.frames) < clip_len:
                raise DatasetError(
                    "video_too_short",
                    where,
                    f"video {video.id!r} has {len(video.frames)} frame(s), fewer than "
                    f"clip_len={clip_len}; leave it out of video_ids or lower clip_len",
                )
            if require_key and not video.key_indices:
                raise DatasetError(
                    "no_key_frame",
                    where,
                    f"video {video.id!r} has no key-frame mask (require_key=True); run "
                    "`stillmotion keyframes --write` or leave it out of video_ids",
                )
            self.starts.append(_valid_starts(video, clip_len, require_key))
        self._flat = [(vi, s) for vi, ss in enumerate(self.starts) for s in ss]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose clip draws and augmentations __getitem__ returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.clips_per_video is None:
            return len(self._flat)
        return len(self.videos) * self.clips_per_video

    def _rng(self, index: int, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, index])

    def clip_at(self, index: int, epoch: int | None = None) -> tuple[int, int]:
        """(video position in video_ids, start frame) of item `index` in `epoch` (default: the
        current epoch)."""
        epoch = self.epoch if epoch is None else epoch
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        if self.clips_per_video is None:
            return self._flat[index]
        vi = index // self.clips_per_video
        starts = self.starts[vi]
        # A separate stream from augmentation's, so turning augmentation on keeps the clips.
        pick = np.random.default_rng([self.seed, epoch, index, 1]).integers(len(starts))
        return vi, starts[int(pick)]

    def _resize(self, x: torch.Tensor, is_mask: bool) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        out = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)
        return (out >= 0.5).to(x.dtype) if is_mask else out.clamp(0.0, 1.0)

    def _load_mask(self, rel: str, frame_path: str, hw: tuple[int, ...]) -> np.ndarray:
        path = self.manifest.resolve(rel)
        mask = load_mask(path)
        if mask.shape[1:] != hw:
            raise DatasetError(
                "size_mismatch",
                path,
                f"mask is {mask.shape[2]}x{mask.shape[1]} but frame {frame_path} is "
                f"{hw[1]}x{hw[0]}",
            )
        return mask

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """Item `index` of the current epoch, or of epoch `e` for key = (e, index): the form the
        training loader uses, because its worker processes live across epochs and never see
        set_epoch calls made in the parent."""
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        vi, start = self.clip_at(index, epoch)
        video = self.videos[vi]
        frames, keys, gts, is_key, has_gt = [], [], [], [], []
        for entry in video.frames[start : start + self.clip_len]:
            path = self.manifest.resolve(entry.image)
            img = load_frame(path, self.manifest.channels)  # (C, H, W)
            hw = img.shape[1:]
            if hw != (video.height, video.width):
                raise DatasetError(
                    "size_mismatch",
                    path,
                    f"frame is {hw[1]}x{hw[0]} but video {video.id!r} declares "
                    f"{video.width}x{video.height}",
                )
            empty = np.zeros((1, *hw), dtype=np.float32)
            frames.append(img)
            keys.append(
                self._load_mask(entry.key_mask, entry.image, hw) if entry.key_mask else empty
            )
            gts.append(self._load_mask(entry.gt_mask, entry.image, hw) if entry.gt_mask else empty)
            is_key.append(entry.key_mask is not None)
            has_gt.append(entry.gt_mask is not None)
        frames_t = self._resize(torch.from_numpy(np.stack(frames)), is_mask=False)  # (T, C, H, W)
        keys_t = self._resize(torch.from_numpy(np.stack(keys)), is_mask=True)  # (T, 1, H, W)
        gts_t = self._resize(torch.from_numpy(np.stack(gts)), is_mask=True)  # (T, 1, H, W)
        if self.augment:
            aug = ClipAugmentation.sample(self._rng(index, epoch), self.manifest.modality)
            frames_t = aug.apply_frames(frames_t)
            keys_t = aug.apply_masks(keys_t)
            gts_t = aug.apply_masks(gts_t)
        return {
            "frames": frames_t.contiguous(),
            "key_masks": keys_t.contiguous(),
            "is_key": torch.tensor(is_key, dtype=torch.bool),
            "gt_masks": gts_t.contiguous(),
            "has_gt": torch.tensor(has_gt, dtype=torch.bool),
            "video_id": video.id,
            "start": start,
        }
