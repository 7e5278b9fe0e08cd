"""Dataset files must really be inside the dataset folder.

Manifest paths are relative and never contain `..` (manifest.path_problem), but a symlink in the
dataset folder can still lead anywhere on the machine; such a file would be read, trained on and
copied into outputs as if it were part of the dataset. This resolves symlinks and refuses what
lands outside the folder. Links that stay inside (shared frames) are fine. Mirrors the
orchestrator's dataset/containment.ts.
"""

from __future__ import annotations

import os
from pathlib import Path

from stillmotion_trainer.data.errors import DatasetError


def inside_dataset(root: Path, relative: str) -> Path:
    """`root / relative`, or DatasetError `unsafe_path` when its real location (symlinks
    resolved) is outside the real `root`. A path that does not exist passes: the missing file is
    reported where it is opened."""
    full = root / relative
    if not os.path.exists(full):
        return full
    real, real_root = os.path.realpath(full), os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        raise DatasetError(
            "unsafe_path",
            full,
            f"resolves to {real}, outside the dataset folder {real_root} (a symlink): "
            "copy the file into the dataset instead",
        )
    return full
