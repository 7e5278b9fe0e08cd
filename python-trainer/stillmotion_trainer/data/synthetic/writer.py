"""Write a dataset folder (frames, masks, manifest.json) atomically and reproducibly.

Every file is written through fs_atomic (temporary name, fsync, rename), so a crash never leaves
a half-written PNG or manifest. PNGs carry no timestamps, so the same pixels give the same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from stillmotion_trainer.fs_atomic import atomic_write_bytes, atomic_write_json


def encode_png(pixels: np.ndarray) -> bytes:
    """(H, W) uint8 -> greyscale PNG, (H, W, 3) uint8 -> RGB PNG."""
    import io

    from PIL import Image

    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError(f"expected uint8 (H, W) or (H, W, 3), got {pixels.dtype} {pixels.shape}")
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L" if pixels.ndim == 2 else "RGB").save(buf, format="PNG")
    return buf.getvalue()


def write_png(path: Path, pixels: np.ndarray) -> None:
    atomic_write_bytes(path, encode_png(pixels))


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    path = root / "manifest.json"
    atomic_write_json(path, manifest)
    return path


def prepare_output(root: Path, overwrite: bool) -> None:
    """Refuse a non-empty folder unless overwrite, which removes only what a dataset holds."""
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{root}: folder is not empty (pass overwrite to replace it)")
        for name in ("frames", "masks"):
            shutil.rmtree(root / name, ignore_errors=True)
        (root / "manifest.json").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
