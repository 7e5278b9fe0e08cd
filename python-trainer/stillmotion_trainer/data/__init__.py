"""Datasets: the on-disk format (docs/dataset-format.md), pixel loaders, synthetic data.

Torch-dependent pieces live in `video_dataset` and `augment`; import them from there so that
reading a manifest never pulls in torch.
"""

from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.images import load_frame, load_mask
from stillmotion_trainer.data.manifest import (
    FrameEntry,
    Manifest,
    VideoEntry,
    load_manifest,
    split_by_video,
)

__all__ = [
    "DatasetError",
    "FrameEntry",
    "Manifest",
    "VideoEntry",
    "load_frame",
    "load_manifest",
    "load_mask",
    "split_by_video",
]
