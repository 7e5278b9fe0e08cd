"""Pixel readers for dataset frames and masks (docs/dataset-format.md, "Images" and "Masks").

Frames load as (C, H, W) float32 in [0, 1]; masks as (1, H, W) float32 in {0, 1}. Nothing is
converted behind the caller's back: a frame whose colour layout disagrees with the manifest, or
a mask that is not binary, is an error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stillmotion_trainer.data.errors import DatasetError
from stillmotion_trainer.data.manifest import MAX_PIXELS

# A mask pixel is "ambiguous" when it lies strictly inside this band; anti-aliased edges leave a
# few such pixels, a soft or grey mask leaves many.
AMBIGUOUS_LOW, AMBIGUOUS_HIGH = 32, 223
MAX_AMBIGUOUS_FRACTION = 0.01
MASK_THRESHOLD = 128  # pixel >= 128 -> lesion

_FRAME_MODES = {1: ("L", "I;16", "I;16B", "I;16L"), 3: ("RGB",)}


def _open(path: str | Path):  # type: ignore[no-untyped-def]
    """Open and fully decode an image, turning every decoder failure into a DatasetError."""
    from PIL import Image

    p = Path(path)
    if not p.is_file():
        raise DatasetError("missing_file", p, "file not found")
    try:
        img = Image.open(p)
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise DatasetError("bad_dimensions", p, f"image is {w}x{h}, above {MAX_PIXELS} pixels")
        img.load()
    except DatasetError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError("unreadable_image", p, f"cannot decode image: {e}") from e
    if w < 1 or h < 1:
        raise DatasetError("bad_dimensions", p, f"image is {w}x{h}")
    return img


def load_frame(path: str | Path, channels: int) -> np.ndarray:
    """Frame as (C, H, W) float32 in [0, 1]. channels=3 needs an RGB file, 1 a greyscale one."""
    if channels not in _FRAME_MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    img = _open(path)
    if img.mode not in _FRAME_MODES[channels]:
        raise DatasetError(
            "wrong_channels",
            path,
            f"image mode {img.mode!r} does not match channels={channels} "
            f"(allowed modes: {', '.join(_FRAME_MODES[channels])})",
        )
    arr = np.asarray(img)
    scale = 65535.0 if arr.dtype == np.uint16 or img.mode.startswith("I;16") else 255.0
    out = arr.astype(np.float32) / scale
    out = out[None] if out.ndim == 2 else out.transpose(2, 0, 1)
    return np.ascontiguousarray(out)  # (C, H, W)


def mask_problem(values: np.ndarray) -> str | None:
    """Why an 8-bit mask array is not binary, or None when it is (see module constants)."""
    if values.size and values.max() == 1:
        return "mask uses values 0/1; masks must use 0 (background) and 255 (lesion)"
    ambiguous = np.count_nonzero((values > AMBIGUOUS_LOW) & (values < AMBIGUOUS_HIGH))
    fraction = ambiguous / max(values.size, 1)
    if fraction > MAX_AMBIGUOUS_FRACTION:
        return (
            f"mask is not binary: {fraction:.1%} of pixels lie between {AMBIGUOUS_LOW} and "
            f"{AMBIGUOUS_HIGH} (at most {MAX_AMBIGUOUS_FRACTION:.0%} allowed; 0 = background, "
            "255 = lesion)"
        )
    return None


def load_mask(path: str | Path) -> np.ndarray:
    """Mask as (1, H, W) float32 in {0, 1}; the file must be single-channel and binary."""
    img = _open(path)
    if img.mode == "1":
        return np.asarray(img, dtype=np.float32)[None]
    if img.mode != "L":
        raise DatasetError(
            "wrong_channels", path, f"mask mode {img.mode!r}; masks must be single-channel (L or 1)"
        )
    values = np.asarray(img)
    problem = mask_problem(values)
    if problem:
        raise DatasetError("mask_not_binary", path, problem)
    return (values >= MASK_THRESHOLD).astype(np.float32)[None]
