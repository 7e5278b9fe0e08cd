"""Full dataset check: every file is inside the dataset folder, decodes, sizes agree, masks are
binary.

`load_manifest` only checks structure and that files exist; this reads every pixel, so it is
what `dataset-check` runs before a long training job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.images import load_frame, load_mask
from stillmotion_trainer.data.manifest import Manifest, load_manifest


@dataclass
class CheckReport:
    """What a check found: counts plus every problem (never only the first)."""

    manifest: Manifest | None
    videos: int = 0
    frames: int = 0
    key_masks: int = 0
    gt_masks: int = 0
    errors: list[DatasetError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_frame(
    manifest: Manifest, video_index: int, frame_index: int, report: CheckReport
) -> None:
    video = manifest.videos[video_index]
    frame = video.frames[frame_index]
    try:
        image_path = manifest.resolve(frame.image)  # refuses a symlink leading outside
        pixels = load_frame(image_path, manifest.channels)
    except DatasetError as e:
        report.errors.append(e)
        return
    h, w = pixels.shape[1:]
    if (w, h) != (video.width, video.height):
        report.errors.append(
            DatasetError(
                "size_mismatch",
                image_path,
                f"frame is {w}x{h} but video {video.id!r} declares {video.width}x{video.height}",
            )
        )
    for kind, rel in (("keyMask", frame.key_mask), ("gtMask", frame.gt_mask)):
        if rel is None:
            continue
        try:
            mask_path = manifest.resolve(rel)
            mask = load_mask(mask_path)
        except DatasetError as e:
            report.errors.append(e)
            continue
        mh, mw = mask.shape[1:]
        if (mw, mh) != (w, h):
            report.errors.append(
                DatasetError(
                    "size_mismatch",
                    mask_path,
                    f"{kind} is {mw}x{mh} but its frame {frame.image} is {w}x{h}",
                )
            )


def check_dataset(path: str | Path | Manifest) -> CheckReport:
    """Check a dataset folder, manifest.json, or an already loaded Manifest."""
    try:
        manifest = path if isinstance(path, Manifest) else load_manifest(path)
    except DatasetError as e:
        return CheckReport(manifest=None, errors=[e])
    report = CheckReport(manifest=manifest, videos=len(manifest.videos))
    for vi, video in enumerate(manifest.videos):
        for fi, frame in enumerate(video.frames):
            report.frames += 1
            report.key_masks += frame.key_mask is not None
            report.gt_masks += frame.gt_mask is not None
            _check_frame(manifest, vi, fi, report)
    return report
