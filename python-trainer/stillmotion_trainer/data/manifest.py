"""Read and validate a StillMotion dataset manifest (docs/dataset-format.md).

Validation has two layers, mirrored by the TypeScript side (packages/orchestrator/src/dataset/
manifest.ts): the JSON Schema in schemas/dataset-manifest.v1.schema.json, then rules a schema
cannot express (unique ids, unique paths, files exist, pixel budget). Reading pixels is left to
`check.check_dataset` and the loaders, so opening a large dataset stays cheap.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from stillmotion_trainer.data.containment import inside_dataset
from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.schemas import json_path as _where
from stillmotion_trainer.schemas import load_schema

FORMAT = "stillmotion-dataset"
VERSION = 1
MANIFEST_NAME = "manifest.json"
# Width * height above this is refused: 8192 x 8192 is already far beyond any endoscope or probe.
MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class FrameEntry:
    """One frame: its image and, optionally, a key-frame mask and a full evaluation mask."""

    image: str
    key_mask: str | None = None
    gt_mask: str | None = None
    key_source: str | None = None  # "clinician" | "detector" | "synthetic" when key_mask is set


@dataclass(frozen=True)
class VideoEntry:
    id: str
    fps: float
    width: int
    height: int
    frames: tuple[FrameEntry, ...]

    @property
    def key_indices(self) -> tuple[int, ...]:
        """Indices of frames that carry a key-frame mask."""
        return tuple(i for i, f in enumerate(self.frames) if f.key_mask is not None)


@dataclass(frozen=True)
class Manifest:
    root: Path  # the dataset folder; every path in the manifest is relative to it
    name: str
    modality: str
    channels: int
    videos: tuple[VideoEntry, ...]

    def video(self, video_id: str) -> VideoEntry:
        for v in self.videos:
            if v.id == video_id:
                return v
        known = ", ".join(v.id for v in self.videos[:10])
        raise DatasetError(
            "unknown_video", self.root / MANIFEST_NAME, f"no video {video_id!r} (have: {known})"
        )

    def resolve(self, relative: str) -> Path:
        """Absolute location of a manifest path; DatasetError if a symlink leads it outside."""
        return inside_dataset(self.root, relative)


def path_problem(value: str) -> str | None:
    """Why `value` is not an acceptable manifest path, or None when it is.

    Paths must be relative POSIX paths that stay inside the dataset folder.
    """
    if value.startswith("/"):
        return "absolute paths are not allowed"
    if len(value) >= 2 and value[1] == ":" and value[0].isalpha():
        return "drive-letter (absolute) paths are not allowed"
    if "\\" in value:
        return "backslashes are not allowed; use '/'"
    parts = value.split("/")
    if ".." in parts:
        return "'..' segments are not allowed (paths must stay inside the dataset folder)"
    if "." in parts or "" in parts:
        return "empty or '.' segments are not allowed"
    return None


SCHEMA_NAME = "dataset-manifest.v1.schema.json"


def _frame_paths(data: Any) -> Iterator[tuple[list[Any], str]]:
    """(json location, value) of every path string, tolerating a malformed document."""
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, list):
        return
    for vi, video in enumerate(videos):
        frames = video.get("frames") if isinstance(video, dict) else None
        if not isinstance(frames, list):
            continue
        for fi, frame in enumerate(frames):
            if not isinstance(frame, dict):
                continue
            for key in ("image", "keyMask", "gtMask"):
                value = frame.get(key)
                if isinstance(value, str):
                    yield ["videos", vi, "frames", fi, key], value


def _non_finite_numbers(data: Any, loc: list[Any]) -> Iterator[tuple[list[Any], float]]:
    """(json location, value) of every NaN/Infinity: Python's json reads them, JSON has none."""
    if isinstance(data, float) and not math.isfinite(data):
        yield loc, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _non_finite_numbers(value, [*loc, key])
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _non_finite_numbers(value, [*loc, index])


def _pre_schema_rules(data: Any, where: Path) -> None:
    """Rules checked before the schema so the common mistakes get a specific message."""
    if not isinstance(data, dict):
        raise DatasetError("invalid_manifest", where, "manifest must be a JSON object")
    # Before the schema: every comparison with NaN is false, so `"fps": NaN` passes
    # exclusiveMinimum/maximum (the TypeScript reader refuses the token when parsing).
    for number_loc, number in _non_finite_numbers(data, []):
        allowed = "; fps wants a number in (0, 1000]" if number_loc[-1:] == ["fps"] else ""
        raise DatasetError(
            "invalid_manifest",
            where,
            f"{_where(number_loc)}: {number} is not a finite number (JSON allows none{allowed})",
        )
    if data.get("format") == FORMAT and data.get("version") != VERSION:
        raise DatasetError(
            "unsupported_version",
            where,
            f"version {data.get('version')!r} is not supported; this reader knows {VERSION}",
        )
    for loc, value in _frame_paths(data):
        problem = path_problem(value)
        if problem:
            raise DatasetError("unsafe_path", where, f"{_where(loc)} = {value!r}: {problem}")
    videos = data.get("videos")
    if isinstance(videos, list):
        for vi, video in enumerate(videos):
            if isinstance(video, dict) and video.get("frames") == []:
                vid = video.get("id", vi)
                raise DatasetError("empty_video", where, f"videos[{vi}] (id {vid!r}) has no frames")


def _schema_rules(data: Any, where: Path) -> None:
    import jsonschema

    schema = load_schema(SCHEMA_NAME)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    first = errors[0]
    loc = list(first.absolute_path)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    code = "invalid_manifest"
    if loc and loc[-1] in ("width", "height"):
        code = "bad_dimensions"
    message = f"{_where(loc)}: {first.message}{more}"
    raise DatasetError(code, where, message)


def _post_schema_rules(data: dict[str, Any], root: Path, where: Path) -> None:
    seen_ids: set[str] = set()
    seen_images: dict[str, str] = {}
    for vi, video in enumerate(data["videos"]):
        if video["id"] in seen_ids:
            raise DatasetError("duplicate_id", where, f"videos[{vi}].id {video['id']!r} repeats")
        seen_ids.add(video["id"])
        if video["width"] * video["height"] > MAX_PIXELS:
            raise DatasetError(
                "bad_dimensions",
                where,
                f"videos[{vi}] is {video['width']}x{video['height']}: more than {MAX_PIXELS} "
                "pixels per frame",
            )
        for fi, frame in enumerate(video["frames"]):
            loc = f"videos[{vi}].frames[{fi}].image"
            if frame["image"] in seen_images:
                raise DatasetError(
                    "duplicate_path",
                    where,
                    f"{loc} = {frame['image']!r} is also {seen_images[frame['image']]}",
                )
            seen_images[frame["image"]] = loc
    for loc_parts, value in _frame_paths(data):
        if not (root / value).is_file():
            raise DatasetError(
                "missing_file",
                root / value,
                f"file not found (referenced by {_where(loc_parts)} in {where})",
            )
        inside_dataset(root, value)


def manifest_location(path: str | Path) -> Path:
    """manifest.json inside `path` when `path` is a folder, else `path` itself."""
    p = Path(path)
    return p / MANIFEST_NAME if p.is_dir() else p


def load_manifest(path: str | Path) -> Manifest:
    """Load and validate a dataset. `path` is the dataset folder or its manifest.json.

    Raises DatasetError naming the manifest (or the missing file) and the problem.
    """
    where = manifest_location(path)
    if not where.is_file():
        raise DatasetError("missing_file", where, "dataset manifest not found")
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise DatasetError("invalid_manifest", where, f"not UTF-8 text: {e}") from e
    except json.JSONDecodeError as e:
        raise DatasetError(
            "invalid_manifest", where, f"not valid JSON (line {e.lineno}, col {e.colno}): {e.msg}"
        ) from e
    root = where.parent
    _pre_schema_rules(data, where)
    _schema_rules(data, where)
    _post_schema_rules(data, root, where)
    videos = tuple(
        VideoEntry(
            id=v["id"],
            fps=float(v["fps"]),
            width=int(v["width"]),
            height=int(v["height"]),
            frames=tuple(
                FrameEntry(
                    image=f["image"],
                    key_mask=f.get("keyMask"),
                    gt_mask=f.get("gtMask"),
                    key_source=f.get("keySource"),
                )
                for f in v["frames"]
            ),
        )
        for v in data["videos"]
    )
    return Manifest(
        root=root,
        name=data["name"],
        modality=data["modality"],
        channels=int(data["channels"]),
        videos=videos,
    )


def split_by_video(
    manifest: Manifest, val_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Split video ids into (train, val), deterministic in (ids, val_fraction, seed).

    Whole videos go to one side, so no frame of a validation video is ever trained on. With a
    positive fraction and at least two videos, each side gets at least one video. Both lists keep
    manifest order.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    ids = [v.id for v in manifest.videos]
    n_val = round(val_fraction * len(ids))
    if val_fraction > 0 and len(ids) >= 2:
        n_val = min(max(n_val, 1), len(ids) - 1)
    shuffled = sorted(ids)  # independent of manifest order
    random.Random(seed).shuffle(shuffled)
    val = set(shuffled[:n_val])
    return [i for i in ids if i not in val], [i for i in ids if i in val]
